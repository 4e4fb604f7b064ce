"""Authentication: SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL implements it, TLS contexts."""
