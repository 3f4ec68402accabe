"""One client for a Triton server over gRPC or HTTP, with the calls Perseus needs.

Wraps ``tritonclient`` (it does the protocol work): readiness, server metadata, model
control with config overrides, inference, and statistics snapshots. Every failure to
reach the server becomes a :class:`~perseus.errors.HostError` that names host and URL.
Header values (access tokens) are passed to the server and never logged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from tritonclient.utils import InferenceServerException

from perseus.errors import HostError
from perseus.triton.trace import trace_settings

if TYPE_CHECKING:
    from perseus.config.hosts import Host

Protocol = Literal["grpc", "http"]
CONNECT_TIMEOUT_S = 8.0


@dataclass(frozen=True)
class ComputeStats:
    """Cumulative server-side times of one model (from ``get_inference_statistics``), in ns."""

    requests: int          # successful inference requests
    executions: int        # batches executed
    success_ns: int        # server time of those requests, summed: receipt to response
    queue_ns: int
    compute_ns: int        # compute_input + compute_infer + compute_output, summed per request
    batches: dict[int, tuple[int, int]]  # batch size -> (batches executed, compute ns summed per batch)

    def minus(self, earlier: "ComputeStats") -> "ComputeStats":
        sizes = set(self.batches) | set(earlier.batches)
        return ComputeStats(
            requests=self.requests - earlier.requests,
            executions=self.executions - earlier.executions,
            success_ns=self.success_ns - earlier.success_ns,
            queue_ns=self.queue_ns - earlier.queue_ns,
            compute_ns=self.compute_ns - earlier.compute_ns,
            batches={
                size: (
                    self.batches.get(size, (0, 0))[0] - earlier.batches.get(size, (0, 0))[0],
                    self.batches.get(size, (0, 0))[1] - earlier.batches.get(size, (0, 0))[1],
                )
                for size in sizes
            },
        )

    def batch_compute_ms(self, size: int) -> float:
        """Mean compute time of one executed batch of ``size``, in ms (NaN when none ran)."""
        count, total = self.batches.get(size, (0, 0))
        return total / count / 1e6 if count else float("nan")


def _ns(section: dict[str, Any], key: str) -> int:
    return int(section.get(key, {}).get("ns", 0))


def parse_statistics(stats: dict[str, Any], model: str) -> ComputeStats:
    """The cumulative statistics of ``model`` from a JSON statistics reply (any protocol)."""
    entries = [entry for entry in stats.get("model_stats", []) if entry.get("name") == model]
    if not entries:
        return ComputeStats(0, 0, 0, 0, 0, {})
    entry = entries[0]
    inference = entry.get("inference_stats", {})
    batches = {}
    for batch in entry.get("batch_stats", []):
        ns = sum(_ns(batch, key) for key in ("compute_input", "compute_infer", "compute_output"))
        batches[int(batch["batch_size"])] = (int(batch.get("compute_infer", {}).get("count", 0)), ns)
    return ComputeStats(
        requests=int(inference.get("success", {}).get("count", 0)),
        executions=int(entry.get("execution_count", 0)),
        success_ns=_ns(inference, "success"),
        queue_ns=_ns(inference, "queue"),
        compute_ns=sum(_ns(inference, key) for key in ("compute_input", "compute_infer", "compute_output")),
        batches=batches,
    )


class TritonClient:
    """A synchronous client of one Triton server (``host`` names it in errors)."""

    def __init__(
        self,
        url: str,
        *,
        protocol: Protocol = "grpc",
        host: str = "",
        headers: dict[str, str] | None = None,
        ssl: bool = False,
        root_certificates: str | None = None,
        private_key: str | None = None,
        certificate_chain: str | None = None,
        insecure: bool = False,
        timeout_s: float = 120.0,
    ) -> None:
        self.url = url
        self.protocol = protocol
        self.host = host
        self.headers = dict(headers or {})
        self.timeout_s = timeout_s
        if protocol == "grpc":
            import tritonclient.grpc as grpcclient

            self._module = grpcclient
            self._client = grpcclient.InferenceServerClient(
                url, ssl=ssl, root_certificates=root_certificates, private_key=private_key,
                certificate_chain=certificate_chain,
            )
        else:
            import tritonclient.http as httpclient

            self._module = httpclient
            self._client = httpclient.InferenceServerClient(
                url, ssl=ssl, insecure=insecure, connection_timeout=CONNECT_TIMEOUT_S, network_timeout=timeout_s,
                ssl_options={"keyfile": private_key, "certfile": certificate_chain, "ca_certs": root_certificates}
                if ssl else None,
            )

    @classmethod
    def for_host(cls, name: str, host: "Host", url: str | None = None, **kwargs: Any) -> "TritonClient":
        """A client of inventory host ``host`` (at ``url`` when given, e.g. an embedded one's)."""
        address = url or host.url
        assert address is not None, "a remote host always has a url"
        return cls(address, protocol=host.protocol if url is None else "grpc", host=name, headers=host.headers,
                   ssl=host.ssl, root_certificates=host.root_certificates, private_key=host.private_key,
                   certificate_chain=host.certificate_chain, insecure=host.insecure, **kwargs)

    # --- errors -----------------------------------------------------------------------

    def error(self, message: str) -> HostError:
        return HostError(message, host=self.host or None, url=self.url)

    def _call(self, what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, headers=self.headers or None, **kwargs)
        except InferenceServerException as exc:
            raise self.error(f"{what} failed: {exc.message() or exc}") from None
        except Exception as exc:  # connection refused, DNS, TLS: whatever the transport raises
            raise self.error(f"{what} failed: {type(exc).__name__}: {exc}") from None

    # --- health and metadata ----------------------------------------------------------

    def is_ready(self, models: list[str] = ()) -> bool:  # type: ignore[assignment]
        """True when the server and every model in ``models`` are ready; never raises."""
        try:
            kwargs = {"client_timeout": 2.0} if self.protocol == "grpc" else {}
            if not self._client.is_server_ready(headers=self.headers or None, **kwargs):
                return False
            return all(self._client.is_model_ready(m, headers=self.headers or None, **kwargs) for m in models)
        except Exception:
            return False

    def check_reachable(self) -> None:
        """Raise a :class:`HostError` unless the server answers within the connect timeout."""
        try:
            kwargs = {"client_timeout": CONNECT_TIMEOUT_S} if self.protocol == "grpc" else {}
            live = self._client.is_server_live(headers=self.headers or None, **kwargs)
        except Exception as exc:
            detail = exc.message() if isinstance(exc, InferenceServerException) else f"{type(exc).__name__}"
            raise self.error(f"unreachable ({detail})") from None
        if not live:
            raise self.error("server is not live")

    def server_version(self) -> str:
        metadata = self._call("server metadata", self._client.get_server_metadata)
        return metadata.version if hasattr(metadata, "version") else metadata.get("version", "")

    def model_names(self) -> list[str]:
        """Models the repository index lists as READY."""
        index = self._call("repository index", self._client.get_model_repository_index, **self._json())
        models = index.get("models", []) if isinstance(index, dict) else index
        return sorted(m["name"] for m in models if m.get("state") == "READY")

    def model_config(self, model: str) -> dict[str, Any]:
        reply = self._call(f"config of {model!r}", self._client.get_model_config, model, **self._json())
        return reply.get("config", reply)

    def load_model(self, model: str, config: dict[str, Any] | None = None) -> None:
        """Load (or reload) ``model``, with ``config`` as a full override when given."""
        kwargs = {"config": json.dumps(config)} if config is not None else {}
        self._call(f"loading {model!r}", self._client.load_model, model, **kwargs)

    def statistics(self, model: str) -> ComputeStats:
        reply = self._call(f"statistics of {model!r}", self._client.get_inference_statistics, model, **self._json())
        return parse_statistics(reply, model)

    def set_tracing(self, on: bool) -> None:
        """Switch the server's request traces on or off (:mod:`perseus.triton.trace`)."""
        self._call("trace settings", self._client.update_trace_settings, settings=trace_settings(on))

    def _json(self) -> dict[str, Any]:
        return {"as_json": True} if self.protocol == "grpc" else {}

    # --- inference --------------------------------------------------------------------

    def make_inputs(self, batch: np.ndarray) -> list[Any]:
        tensor = self._module.InferInput("input", list(batch.shape), "FP32")
        tensor.set_data_from_numpy(batch)
        return [tensor]

    def infer(self, model: str, inputs: list[Any]) -> None:
        """One synchronous inference (output discarded)."""
        kwargs = {"client_timeout": self.timeout_s} if self.protocol == "grpc" else {}
        self._call(f"inference on {model!r}", self._client.infer, model, inputs, **kwargs)

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:
            pass
