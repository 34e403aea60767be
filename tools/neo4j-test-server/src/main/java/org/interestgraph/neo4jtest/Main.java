package org.interestgraph.neo4jtest;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.server.CommunityBootstrapper;
import org.neo4j.server.NeoBootstrapper;

/**
 * Starts Neo4j 5 Community on loopback for tests and development, and stops it on SIGTERM.
 *
 * <p>Usage: {@code Main --state DIR [--bolt-port N] [--http-port N] [--watch-pid PID]}. The data
 * lives in {@code DIR/home/data}. Auth is on with a password generated at the folder's first start
 * and kept in {@code DIR/password} (so a restart, as after a bulk import, keeps it); once the
 * server answers, {@code DIR/env} receives the {@code NEO4J_URI}, {@code NEO4J_USER},
 * {@code NEO4J_PASSWORD} and {@code NEO4J_HTTP} lines (written atomically, so its presence means
 * "ready"). With {@code --watch-pid} the server also stops when that process is gone, so a test
 * run that is killed leaves no server behind.
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) throws Exception {
        Path state = null;
        int boltPort = 0;
        int httpPort = 0;
        long watchPid = 0;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--state" -> state = Path.of(args[++i]).toAbsolutePath();
                case "--bolt-port" -> boltPort = Integer.parseInt(args[++i]);
                case "--http-port" -> httpPort = Integer.parseInt(args[++i]);
                case "--watch-pid" -> watchPid = Long.parseLong(args[++i]);
                default -> usage("unknown argument " + args[i]);
            }
        }
        if (state == null) {
            usage("--state is required");
        }
        Path home = state.resolve("home");
        Path env = state.resolve("env");
        Files.createDirectories(home.resolve("conf"));
        Files.deleteIfExists(env);
        if (boltPort == 0) {
            boltPort = freePort();
        }
        if (httpPort == 0) {
            httpPort = freePort();
        }

        Map<String, String> config = new HashMap<>();
        config.put("server.default_listen_address", "127.0.0.1");
        config.put("server.default_advertised_address", "127.0.0.1");
        config.put("server.bolt.enabled", "true");
        config.put("server.bolt.listen_address", "127.0.0.1:" + boltPort);
        config.put("server.bolt.advertised_address", "127.0.0.1:" + boltPort);
        config.put("server.http.enabled", "true");
        config.put("server.http.listen_address", "127.0.0.1:" + httpPort);
        config.put("server.http.advertised_address", "127.0.0.1:" + httpPort);
        config.put("server.https.enabled", "false");
        config.put("dbms.security.auth_enabled", "true");
        config.put("dbms.usage_report.enabled", "false");
        config.put("server.directories.data", home.resolve("data").toString());
        config.put("server.directories.logs", home.resolve("logs").toString());
        config.put("server.directories.run", home.resolve("run").toString());
        config.put("server.memory.pagecache.size", System.getProperty("neo4j.pagecache", "512m"));
        // A bound on each transaction's memory (NEO4J_TX_MEMORY): the test session sets one so
        // that a query whose memory grows with the graph fails in the suite, not at a shop.
        String txMax = System.getProperty("neo4j.transaction.max", "");
        if (!txMax.isEmpty()) {
            config.put("db.memory.transaction.max", txMax);
        }
        // A small, shared machine: keep only what recovery needs.
        config.put("db.tx_log.rotation.retention_policy", "2 files");

        NeoBootstrapper bootstrapper = new CommunityBootstrapper();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                Files.deleteIfExists(env);
            } catch (IOException ignored) {
                // the state folder may be gone already
            }
            if (bootstrapper.isRunning()) {
                bootstrapper.stop();
            }
            stopped.countDown();
        }, "neo4j-test-server-stop"));

        if (watchPid != 0) {
            watch(watchPid);
        }
        int code = bootstrapper.start(home, config);
        if (code != NeoBootstrapper.OK) {
            System.err.println("neo4j-test-server: Neo4j failed to start (code " + code + "), see "
                    + home.resolve("logs"));
            System.exit(code);
        }
        // A kept password is already the user's (and Neo4j refuses setting it again); a new one
        // is kept only once the user has it.
        Path passwordFile = state.resolve("password");
        String password;
        if (Files.exists(passwordFile)) {
            password = Files.readString(passwordFile, StandardCharsets.UTF_8).strip();
        } else {
            password = HexFormat.of().formatHex(randomBytes(16));
            DatabaseManagementService dbms = bootstrapper.getDatabaseManagementService();
            dbms.database("system").executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
            keep(passwordFile, password);
        }

        String lines = "NEO4J_URI=bolt://127.0.0.1:" + boltPort + "\n"
                + "NEO4J_USER=neo4j\n"
                + "NEO4J_PASSWORD=" + password + "\n"
                + "NEO4J_HTTP=http://127.0.0.1:" + httpPort + "\n";
        Path tmp = state.resolve("env.tmp");
        Files.writeString(tmp, lines, StandardCharsets.UTF_8);
        Files.move(tmp, env, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        System.out.println("neo4j-test-server: ready, bolt://127.0.0.1:" + boltPort
                + ", browser http://127.0.0.1:" + httpPort + "/browser/");
        stopped.await();
    }

    /** Exits (running the shutdown hook) once the watched process has ended. */
    private static void watch(long pid) {
        Thread watcher = new Thread(() -> {
            while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
            }
            System.out.println("neo4j-test-server: process " + pid + " has ended, stopping");
            System.exit(0);
        }, "neo4j-test-server-watch");
        watcher.setDaemon(true);
        watcher.start();
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    /** Writes {@code password} to {@code file}, readable by its owner only. */
    private static void keep(Path file, String password) throws IOException {
        Path tmp = file.resolveSibling("password.tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, password, StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
    }

    private static byte[] randomBytes(int n) {
        byte[] bytes = new byte[n];
        new SecureRandom().nextBytes(bytes);
        return bytes;
    }

    private static void usage(String message) {
        System.err.println("neo4j-test-server: " + message);
        System.err.println("usage: Main --state DIR [--bolt-port N] [--http-port N] [--watch-pid PID]");
        System.exit(2);
    }
}
