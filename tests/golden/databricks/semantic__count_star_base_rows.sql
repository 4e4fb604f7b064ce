SELECT CAST(__sem.__g0 AS STRING) AS `status`, CAST(__sem.__m0 AS BIGINT) AS `count` FROM (SELECT __b.status AS __g0, COUNT(*) AS __m0 FROM orders AS __b GROUP BY __b.status) AS __sem
