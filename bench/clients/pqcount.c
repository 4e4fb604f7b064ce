/*
 * pqcount: receive a query's rows with raw libpq and count them (no per-value work), so the
 * server, not the client, is what a stream benchmark measures.
 *
 *   pqcount CONNINFO SQL RUNS [exec|single|copy] [SLEEP_US_PER_1000_ROWS]
 *
 * exec   PQexec: libpq reads the whole result into memory as fast as the socket allows.
 * copy   SQL is a COPY ... TO STDOUT: PQgetCopyData counts its rows (one CopyData each) and drops them.
 * single PQsetSingleRowMode: one row at a time; with SLEEP_US it is a deliberately slow reader
 *        (the memory benchmark uses it to prove the server honours backpressure).
 * Prints one line per run: "<rows> <seconds>".
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fail(PGconn *conn, const char *what) {
    fprintf(stderr, "%s: %s\n", what, PQerrorMessage(conn));
    PQfinish(conn);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s CONNINFO SQL RUNS [exec|single|copy] [SLEEP_US_PER_1000_ROWS]\n", argv[0]);
        return 2;
    }
    int runs = atoi(argv[3]);
    int single = argc > 4 && strcmp(argv[4], "single") == 0;
    int copy = argc > 4 && strcmp(argv[4], "copy") == 0;
    int sleep_us = argc > 5 ? atoi(argv[5]) : 0;
    PGconn *conn = PQconnectdb(argv[1]);
    if (PQstatus(conn) != CONNECTION_OK) return fail(conn, "connect");
    for (int r = 0; r < runs; r++) {
        long long rows = 0;
        double t0 = now();
        if (copy) {
            PGresult *res = PQexec(conn, argv[2]);
            if (PQresultStatus(res) != PGRES_COPY_OUT) {
                PQclear(res);
                return fail(conn, "copy");
            }
            PQclear(res);
            char *buf;
            int n;
            while ((n = PQgetCopyData(conn, &buf, 0)) > 0) {
                rows++;
                PQfreemem(buf);
            }
            if (n == -2) return fail(conn, "copy data");
            while ((res = PQgetResult(conn)) != NULL) {
                if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                    fprintf(stderr, "copy: %s\n", PQresultErrorMessage(res));
                    PQclear(res);
                    PQfinish(conn);
                    return 1;
                }
                PQclear(res);
            }
        } else if (!single) {
            PGresult *res = PQexec(conn, argv[2]);
            if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                PQclear(res);
                return fail(conn, "query");
            }
            rows = PQntuples(res);
            PQclear(res);
        } else {
            if (!PQsendQuery(conn, argv[2])) return fail(conn, "send");
            if (!PQsetSingleRowMode(conn)) return fail(conn, "single-row mode");
            PGresult *res;
            int ok = 1;
            while ((res = PQgetResult(conn)) != NULL) {
                ExecStatusType st = PQresultStatus(res);
                if (st == PGRES_SINGLE_TUPLE) {
                    rows++;
                    if (sleep_us > 0 && rows % 1000 == 0) usleep(sleep_us);
                } else if (st != PGRES_TUPLES_OK) {
                    fprintf(stderr, "query: %s\n", PQresultErrorMessage(res));
                    ok = 0;
                }
                PQclear(res);
            }
            if (!ok) {
                PQfinish(conn);
                return 1;
            }
        }
        printf("%lld %.6f\n", rows, now() - t0);
        fflush(stdout);
    }
    PQfinish(conn);
    return 0;
}
