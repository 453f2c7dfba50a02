//! How `accountops tenants` prints a provider's tenants: a table, or JSON for scripts.

use crate::store::tenants::Tenant;

/// The page as a table (one tenant a row) or as a JSON array.
pub fn render(page: &[Tenant], json: bool) -> String {
    if json {
        let rows: Vec<serde_json::Value> = page.iter().map(to_json).collect();
        return format!("{}\n", serde_json::Value::Array(rows));
    }
    let mut rows = vec![
        ["TENANT", "NAME", "ACCOUNT", "JOINED", "MODE", "GRANTED", "MEMBERS", "PLACED", "SYNCED"].map(str::to_owned),
    ];
    for t in page {
        rows.push([
            t.organization_id.clone(),
            t.organization_name.clone(),
            t.account_name.clone(),
            t.joined_at.map_or_else(|| "-".to_owned(), |at| at.to_string()),
            mode(t),
            if t.granted_roles.is_empty() { "-".to_owned() } else { t.granted_roles.join(",") },
            t.members.to_string(),
            t.placed_by_provider.to_string(),
            format!("{}/{}", t.syncs_synchronized, t.syncs),
        ]);
    }
    let widths: Vec<usize> = (0..9).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn mode(t: &Tenant) -> String {
    match t.partner_role {
        Some(role) => format!("{}:{}", t.mode.as_str(), role.as_str()),
        None => t.mode.as_str().to_owned(),
    }
}

fn to_json(t: &Tenant) -> serde_json::Value {
    serde_json::json!({
        "linkId": t.link_id,
        "organizationId": t.organization_id,
        "organizationName": t.organization_name,
        "accountId": t.account_id,
        "accountName": t.account_name,
        "joinedAt": t.joined_at.map(|at| at.to_string()),
        "mode": t.mode.as_str(),
        "partnerRole": t.partner_role.map(|r| r.as_str()),
        "grantedRoles": t.granted_roles,
        "members": t.members,
        "placedByProvider": t.placed_by_provider,
        "syncs": t.syncs,
        "syncsSynchronized": t.syncs_synchronized,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tenant_links::{LinkMode, PartnerRole};

    fn tenant(name: &str, role: Option<PartnerRole>) -> Tenant {
        Tenant {
            link_id: format!("tl-{name}"),
            organization_id: format!("org-{name}"),
            organization_name: name.to_owned(),
            account_id: "acct-1".into(),
            account_name: "Acme GmbH".into(),
            joined_at: "2026-11-01T10:00:00Z".parse().ok(),
            mode: if role.is_some() { LinkMode::PartnerInvitation } else { LinkMode::ProviderCode },
            partner_role: role,
            granted_roles: vec!["Admin".into(), "Builder".into()],
            members: 7,
            placed_by_provider: 2,
            syncs: 1,
            syncs_synchronized: 1,
        }
    }

    #[test]
    fn a_table_row_per_tenant_and_json_for_scripts() {
        let page = [tenant("eng", None), tenant("retail", Some(PartnerRole::Customer))];
        let text = render(&page, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("TENANT") && lines[0].ends_with("SYNCED"), "{text}");
        let cells: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            cells,
            [
                "org-retail",
                "retail",
                "Acme",
                "GmbH",
                "2026-11-01T10:00:00Z",
                "partner_invitation:customer",
                "Admin,Builder",
                "7",
                "2",
                "1/1"
            ]
        );
        let json: serde_json::Value = serde_json::from_str(&render(&page, true)).expect("json");
        assert_eq!(json[1]["partnerRole"], "customer");
        assert_eq!(json[0]["placedByProvider"], 2);
        assert_eq!(json[0]["partnerRole"], serde_json::Value::Null);
        assert_eq!(render(&[], false).lines().count(), 1, "only the header");
    }
}
