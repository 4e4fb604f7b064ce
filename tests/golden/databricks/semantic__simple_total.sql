SELECT CAST(__sem.__a0 AS DECIMAL(38, 2)) AS `revenue` FROM (SELECT CAST(SUM(__b.amount) AS DECIMAL(38, 2)) AS __a0 FROM orders AS __b) AS __sem
