"""The deployment path: every model, dense or compressed, fp32 or int8, as one exported graph run by
ONNX Runtime (`onnx_graph`), and post-training static int8 quantization of such graphs (`int8`)."""
