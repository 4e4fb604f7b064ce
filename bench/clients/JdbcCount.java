import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Properties;

/**
 * Receive a query's rows with pgjdbc (fetchSize, autocommit off: the driver streams through a
 * portal instead of materialising the result) and count them; prints "rows seconds" per run.
 * Usage: java -cp postgresql.jar:DIR JdbcCount URL USER PASSWORD SQL RUNS FETCHSIZE
 */
public final class JdbcCount {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.setProperty("user", args[1]);
        props.setProperty("password", args[2]);
        props.setProperty("sslmode", "disable");
        int runs = Integer.parseInt(args[4]);
        int fetchSize = Integer.parseInt(args[5]);
        try (Connection conn = DriverManager.getConnection(args[0], props)) {
            conn.setAutoCommit(false);
            for (int r = 0; r < runs; r++) {
                long t0 = System.nanoTime();
                long rows = 0;
                try (Statement st = conn.createStatement()) {
                    st.setFetchSize(fetchSize);
                    try (ResultSet rs = st.executeQuery(args[3])) {
                        while (rs.next()) {
                            rows++;
                        }
                    }
                }
                conn.commit();
                System.out.printf("%d %.6f%n", rows, (System.nanoTime() - t0) / 1e9);
                System.out.flush();
            }
        }
    }
}
