"""Warehouses behind one small Protocol: they run dialect SQL and yield Arrow record batches."""
