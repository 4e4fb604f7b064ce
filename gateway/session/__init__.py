"""Per-connection state: startup and authentication, settings, transactions, statements, portals, cursors."""
