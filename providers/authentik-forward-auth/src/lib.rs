//! Provider authentik-forward-auth.
