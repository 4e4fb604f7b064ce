SELECT CAST(__sem.__g0 AS STRING) AS `channel`, CAST(__sem.__g1 AS BOOLEAN) AS `is_gift` FROM (SELECT DISTINCT __b.channel AS __g0, __b.is_gift AS __g1 FROM orders AS __b) AS __sem
