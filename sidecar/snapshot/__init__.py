"""The data the sidecar serves: accounts, users, groups, roles, policies, resources and the
organisation tree (SCPs, RCPs). Not built yet: the snapshot issue fills this room."""
