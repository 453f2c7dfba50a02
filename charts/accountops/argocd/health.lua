-- Argo CD health of every accountops kind (Account, Organization, Membership, TenantLink,
-- ProvisioningSync), read from the status the operator writes: Ready and Synced (Crossplane),
-- Stalled and Reconciling (kstatus) and status.observedGeneration.
--   Suspended    the accountops.dev/paused annotation (Synced reason ReconcilePaused)
--   Progressing  no status yet, a generation not yet observed, or Reconciling=True
--   Degraded     Stalled=True: only a change by the user moves it on
--   Healthy      Ready=True for the current generation
-- resource-customizations.yaml holds this script once per kind for argocd-cm.
local function condition(conditions, kind)
  for _, c in ipairs(conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function describe(c)
  if c.message ~= nil and c.message ~= "" then
    return c.reason .. ": " .. c.message
  end
  return c.reason
end

local metadata = obj.metadata or {}
local annotations = metadata.annotations or {}
local status = obj.status or {}
local conditions = status.conditions or {}
local synced = condition(conditions, "Synced")

if annotations["accountops.dev/paused"] == "true" or (synced ~= nil and synced.reason == "ReconcilePaused") then
  return { status = "Suspended", message = "reconciliation is paused by the annotation accountops.dev/paused" }
end
if metadata.generation ~= nil and status.observedGeneration ~= metadata.generation then
  return { status = "Progressing", message = "waiting for the operator to observe generation " .. metadata.generation }
end
local stalled = condition(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  return { status = "Degraded", message = describe(stalled) }
end
local reconciling = condition(conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  return { status = "Progressing", message = describe(reconciling) }
end
local ready = condition(conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  return { status = "Healthy", message = describe(ready) }
end
if ready ~= nil then
  return { status = "Progressing", message = describe(ready) }
end
return { status = "Progressing", message = "waiting for the operator to report Ready" }
