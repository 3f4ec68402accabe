"""The Python-backend model that the embedded host serves: one ONNX CNN under onnxruntime.

This file is copied verbatim into the model repository as ``<model>/1/model.py`` and runs
inside Triton's Python backend stub, not inside Perseus. Its configuration comes from
``config.pbtxt`` parameters: ``onnx_path``, ``sys_path`` (the stub does not inherit
``PYTHONPATH``) and ``intra_op_threads``. Each instance runs its own onnxruntime session
with one intra-op thread by default, so that an instance uses one core.

A GPU instance (``KIND_GPU``) runs the graph with onnxruntime's CUDA provider when that
is installed, else the same architecture from torchvision on the GPU (random weights,
seeded), since the plain onnxruntime wheel has no CUDA provider.

Every request of a dynamic batch is concatenated into one tensor and run as one
inference, as a native backend would.
"""

import json
import os
import sys

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {key: value["string_value"] for key, value in config.get("parameters", {}).items()}
        for path in reversed(params.get("sys_path", "").split(os.pathsep)):
            if path and path not in sys.path:
                sys.path.insert(0, path)
        self.name = config["name"]
        if args.get("model_instance_kind") == "GPU":
            self.device = int(args.get("model_instance_device_id", "0"))
            if not self._onnx_cuda_available():
                self._run = self._torch_runner()
                return
        else:
            self.device = None
        self._run = self._onnx_runner(params)

    @staticmethod
    def _onnx_cuda_available():
        try:
            import onnxruntime as ort
        except ImportError:
            return False
        return "CUDAExecutionProvider" in ort.get_available_providers()

    def _onnx_runner(self, params):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(params.get("intra_op_threads", "1"))
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        providers = ["CPUExecutionProvider"]
        if self.device is not None:
            providers = [("CUDAExecutionProvider", {"device_id": self.device}), "CPUExecutionProvider"]
        session = ort.InferenceSession(params["onnx_path"], options, providers=providers)
        return lambda batch: session.run(["output"], {"input": batch})[0]

    def _torch_runner(self):
        import torch
        import torchvision

        torch.manual_seed(0)
        device = torch.device("cuda", self.device)
        net = getattr(torchvision.models, self.name)(weights=None).eval().to(device)

        def run(batch):
            with torch.inference_mode():
                return net(torch.from_numpy(batch).to(device)).cpu().numpy()

        return run

    def execute(self, requests):
        inputs = [pb_utils.get_input_tensor_by_name(request, "input").as_numpy() for request in requests]
        sizes = [array.shape[0] for array in inputs]
        batch = inputs[0] if len(inputs) == 1 else np.concatenate(inputs)
        output = self._run(batch)
        responses = []
        start = 0
        for size in sizes:
            tensor = pb_utils.Tensor("output", output[start : start + size])
            responses.append(pb_utils.InferenceResponse(output_tensors=[tensor]))
            start += size
        return responses
