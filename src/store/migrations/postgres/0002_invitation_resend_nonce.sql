-- The Membership's spec.invitation.resendNonce an invitation was issued for: a different
-- nonce in the spec revokes the open invitation and issues a fresh one (new token, new
-- lifetime, new mail). NULL: issued without a nonce.
ALTER TABLE invitations ADD COLUMN resend_nonce TEXT;
