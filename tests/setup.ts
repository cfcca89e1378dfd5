// Preloaded by bun test (bunfig.toml): the suite sends tens of thousands of HTTP requests and
// starts hundreds of replicas, and one access log or info line each would bury its output.
// Tests of logging turn what they need on themselves (serve.start({ logging })).
process.env.TSSERVE_ACCESS_LOG ??= "0";
process.env.TSSERVE_LOG_LEVEL ??= "warn";
