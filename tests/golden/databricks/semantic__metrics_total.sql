SELECT CAST(__sem.__a0 AS BIGINT) AS `customer_count` FROM (SELECT COUNT(__b.customer_id) AS __a0 FROM customers AS __b) AS __sem
