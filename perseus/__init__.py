"""Perseus: measure, simulate and validate multi-tenant CNN serving on Triton."""

import os

# Perseus starts processes (embedded tritonservers, the CLI in tests) while gRPC channels
# are busy. With grpcio's fork handlers on, a child forked then sometimes aborts before
# it execs ("epoll_wait error: Bad file descriptor"; grpc/grpc#43055, grpcio 1.80 and
# later): 17 of 1,000 children here with a channel busy in another thread (grpcio
# 1.85.3, 2026-12-06), 0 of 1,000 with them off. Perseus never uses gRPC in a forked
# child, so it turns them off, before anything imports grpc.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

__version__ = "0.1.0"
