"""The second step of signing in for staff and operators: one-time codes (TOTP), single-use
recovery codes and security keys or passkeys (WebAuthn), one app installed in each service."""
