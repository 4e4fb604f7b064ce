SELECT DISTINCT CAST(__sem.__g0 AS STRING) AS `status` FROM (SELECT DISTINCT __b.status AS __g0 FROM orders AS __b) AS __sem
