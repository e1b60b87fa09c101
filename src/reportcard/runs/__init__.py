"""Run lifecycle: create, plan shards, execute, compile, package, abort, reap."""
