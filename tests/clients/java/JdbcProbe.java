// Asks pgjdbc what a JDBC BI tool asks (DatabaseMetaData, prepared statements past prepareThreshold,
// fetch-size cursors) and prints the answers as one JSON object on stdout for tests/clients/test_jdbc.py.
//
// usage: java -cp <dir>:postgresql.jar JdbcProbe <jdbc-url> <scan-sql> <metric-table> <dimension> <measure>

import java.sql.*;
import java.util.*;

public class JdbcProbe {
    private static String q(String s) {
        if (s == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c)); else b.append(c);
            }
        }
        return b.append('"').toString();
    }

    private static String list(List<String> items) {
        return "[" + String.join(",", items) + "]";
    }

    private static List<String> column(ResultSet rs, String name) throws SQLException {
        List<String> out = new ArrayList<>();
        try (rs) {
            while (rs.next()) out.add(q(rs.getString(name)));
        }
        return out;
    }

    private static String qi(String ident) {
        return "\"" + ident.replace("\"", "\"\"") + "\"";
    }

    private static String render(Object o) throws SQLException {
        if (o == null) return null;
        if (o instanceof byte[]) return HexFormat.of().formatHex((byte[]) o);
        if (o instanceof Array) return Arrays.deepToString((Object[]) ((Array) o).getArray());
        return o.toString();
    }

    /** Every row of rs rendered with getString (the tool-visible text), plus the Java classes of getObject. */
    private static List<String> rows(ResultSet rs) throws SQLException {
        List<String> out = new ArrayList<>();
        int n = rs.getMetaData().getColumnCount();
        while (rs.next()) {
            List<String> cells = new ArrayList<>();
            for (int i = 1; i <= n; i++) {
                cells.add(q(render(rs.getObject(i))));
            }
            out.add(list(cells));
        }
        return out;
    }

    public static void main(String[] args) throws Exception {
        String url = args[0], scanSql = args[1], metricTable = args[2], dim = args[3], measure = args[4];
        Map<String, String> out = new LinkedHashMap<>();
        Properties props = new Properties();
        props.setProperty("user", "demo");
        props.setProperty("password", "demo");
        props.setProperty("sslmode", "disable");
        props.setProperty("prepareThreshold", "3");
        try (Connection conn = DriverManager.getConnection(url, props)) {
            DatabaseMetaData md = conn.getMetaData();
            out.put("product", q(md.getDatabaseProductName() + " " + md.getDatabaseProductVersion()));
            out.put("catalogs", list(column(md.getCatalogs(), "TABLE_CAT")));
            out.put("schemas", list(column(md.getSchemas(), "TABLE_SCHEM")));
            List<String> tables = new ArrayList<>();
            List<String> tableNames = new ArrayList<>();
            try (ResultSet rs = md.getTables(null, "public", "%", new String[] {"TABLE", "VIEW"})) {
                while (rs.next()) {
                    tableNames.add(rs.getString("TABLE_NAME"));
                    tables.add(list(List.of(q(rs.getString("TABLE_NAME")), q(rs.getString("TABLE_TYPE")),
                                            q(rs.getString("REMARKS")))));
                }
            }
            out.put("tables", list(tables));
            List<String> perTable = new ArrayList<>();
            for (String t : tableNames) {
                List<String> cols = new ArrayList<>();
                try (ResultSet rs = md.getColumns(null, "public", t, "%")) {
                    while (rs.next()) {
                        cols.add(list(List.of(q(rs.getString("COLUMN_NAME")), q(rs.getString("TYPE_NAME")),
                                              String.valueOf(rs.getInt("DATA_TYPE")), String.valueOf(rs.getInt("NULLABLE")),
                                              q(rs.getString("REMARKS")), String.valueOf(rs.getInt("ORDINAL_POSITION")))));
                    }
                }
                List<String> pk = column(md.getPrimaryKeys(null, "public", t), "COLUMN_NAME");
                List<String> fks = new ArrayList<>();
                try (ResultSet rs = md.getImportedKeys(null, "public", t)) {
                    while (rs.next()) {
                        fks.add(list(List.of(q(rs.getString("FK_NAME")), q(rs.getString("FKCOLUMN_NAME")),
                                             q(rs.getString("PKTABLE_NAME")), q(rs.getString("PKCOLUMN_NAME")))));
                    }
                }
                perTable.add(q(t) + ":{\"columns\":" + list(cols) + ",\"pk\":" + list(pk) + ",\"fks\":" + list(fks) + "}");
            }
            out.put("by_table", "{" + String.join(",", perTable) + "}");
            out.put("type_info", list(column(md.getTypeInfo(), "TYPE_NAME")));

            // A PreparedStatement run past prepareThreshold: pgjdbc names it on the server and switches
            // the result columns it can to binary transfer; every run must give the same answer.
            String metricSql = "SELECT " + qi(dim) + ", MEASURE(" + qi(measure) + ") AS m FROM " + qi(metricTable)
                    + " WHERE " + qi(dim) + " = ? GROUP BY " + qi(dim);
            String value;
            try (Statement st = conn.createStatement();
                 ResultSet rs = st.executeQuery("SELECT " + qi(dim) + " FROM " + qi(metricTable) + " GROUP BY "
                                                + qi(dim) + " ORDER BY 1 LIMIT 1")) {
                rs.next();
                value = rs.getString(1);
            }
            out.put("metric_value", q(value));
            List<String> runs = new ArrayList<>();
            try (PreparedStatement ps = conn.prepareStatement(metricSql)) {
                for (int i = 0; i < 6; i++) {
                    ps.setString(1, value);
                    try (ResultSet rs = ps.executeQuery()) {
                        runs.add(list(rows(rs)));
                    }
                }
            }
            out.put("metric_runs", list(runs));
            List<String> scans = new ArrayList<>();
            try (PreparedStatement ps = conn.prepareStatement(scanSql)) {
                for (int i = 0; i < 6; i++) {
                    try (ResultSet rs = ps.executeQuery()) {
                        scans.add(list(rows(rs)));
                    }
                }
            }
            out.put("scan_runs", list(scans));

            // Tableau's temp tables: a filter table filled by a batched PreparedStatement and joined with the
            // table (past prepareThreshold, a row added between runs), and a context table made by SELECT … INTO
            try (Statement st = conn.createStatement()) {
                st.execute("CREATE LOCAL TEMPORARY TABLE \"#Tableau_1_Filter\" (\"X_dim\" TEXT) ON COMMIT PRESERVE ROWS");
            }
            try (PreparedStatement ps = conn.prepareStatement("INSERT INTO \"#Tableau_1_Filter\" (\"X_dim\") VALUES (?)")) {
                ps.setString(1, "no such value");
                ps.addBatch();
                ps.setString(1, "nor this one");
                ps.addBatch();
                ps.executeBatch();
            }
            String joinSql = "SELECT t." + qi(dim) + ", MEASURE(t." + qi(measure) + ") AS m FROM " + qi(metricTable)
                    + " t INNER JOIN \"#Tableau_1_Filter\" f ON t." + qi(dim) + " = f.\"X_dim\" GROUP BY t." + qi(dim);
            List<String> joinRuns = new ArrayList<>();
            try (PreparedStatement ps = conn.prepareStatement(joinSql)) {
                for (int i = 0; i < 5; i++) {
                    if (i == 2) {
                        try (PreparedStatement ins = conn.prepareStatement(
                                "INSERT INTO \"#Tableau_1_Filter\" (\"X_dim\") VALUES (?)")) {
                            ins.setString(1, value);
                            ins.executeUpdate();
                        }
                    }
                    try (ResultSet rs = ps.executeQuery()) {
                        joinRuns.add(list(rows(rs)));
                    }
                }
            }
            out.put("temp_join_runs", list(joinRuns));
            try (Statement st = conn.createStatement()) {
                st.execute("SELECT " + qi(dim) + ", MEASURE(" + qi(measure) + ") AS m INTO TEMPORARY TABLE "
                           + "\"#Tableau_2_Context\" FROM " + qi(metricTable) + " GROUP BY " + qi(dim));
                out.put("context_count", String.valueOf(st.getUpdateCount()));
                try (ResultSet rs = st.executeQuery("SELECT * FROM \"#Tableau_2_Context\" ORDER BY 1")) {
                    out.put("context_rows", list(rows(rs)));
                }
                try (ResultSet rs = st.executeQuery("SELECT " + qi(dim) + ", MEASURE(" + qi(measure) + ") AS m FROM "
                                                    + qi(metricTable) + " GROUP BY " + qi(dim) + " ORDER BY 1")) {
                    out.put("metric_rows", list(rows(rs)));
                }
            }

            // CopyManager: COPY (query) TO STDOUT as CSV, and COPY temp_table FROM STDIN.
            org.postgresql.copy.CopyManager copy = conn.unwrap(org.postgresql.PGConnection.class).getCopyAPI();
            java.io.StringWriter csv = new java.io.StringWriter();
            long copiedOut = copy.copyOut("COPY (SELECT " + qi(dim) + ", MEASURE(" + qi(measure) + ") AS m FROM "
                                          + qi(metricTable) + " GROUP BY " + qi(dim) + " ORDER BY 1) TO STDOUT "
                                          + "WITH (FORMAT csv, HEADER)", csv);
            out.put("copy_out_count", String.valueOf(copiedOut));
            out.put("copy_out_csv", q(csv.toString()));
            try (Statement st = conn.createStatement()) {
                st.execute("CREATE TEMP TABLE copy_jdbc (k text, n int)");
                long copiedIn = copy.copyIn("COPY copy_jdbc FROM STDIN WITH (FORMAT csv)",
                                            new java.io.StringReader("a,1\n\"b,c\",2\n,3\n\"\",4\n"));
                out.put("copy_in_count", String.valueOf(copiedIn));
                try (ResultSet rs = st.executeQuery("SELECT k, n FROM copy_jdbc ORDER BY n")) {
                    out.put("copy_in_rows", list(rows(rs)));
                }
            }

            // setFetchSize with autocommit off: pgjdbc executes with a row limit and resumes the
            // suspended portal (Execute with max rows, PortalSuspended, Execute again).
            conn.setAutoCommit(false);
            List<String> fetched;
            try (Statement st = conn.createStatement()) {
                st.setFetchSize(4);
                try (ResultSet rs = st.executeQuery(scanSql)) {
                    fetched = rows(rs);
                }
            }
            conn.commit();
            conn.setAutoCommit(true);
            List<String> all;
            try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery(scanSql)) {
                all = rows(rs);
            }
            out.put("fetch_size_rows", list(fetched));
            out.put("all_rows", list(all));
        }
        StringBuilder b = new StringBuilder("{");
        boolean first = true;
        for (Map.Entry<String, String> e : out.entrySet()) {
            if (!first) b.append(',');
            first = false;
            b.append(q(e.getKey())).append(':').append(e.getValue());
        }
        System.out.println(b.append('}'));
    }
}
