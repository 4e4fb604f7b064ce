SELECT CAST(__sem.__g0 AS STRING) AS `customer_email`, CAST(__sem.__g1 AS STRING) AS `region` FROM (SELECT DISTINCT __b.email AS __g0, __b.region AS __g1 FROM customers AS __b) AS __sem
