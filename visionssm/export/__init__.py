"""Deployment: ONNX export and int8 quantization (``[deploy]`` extra); submodules import their heavy dependencies."""
