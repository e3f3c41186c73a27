"""ONNX inference: the model directory and its manifest, tokenization, the context segment, BIO decoding."""
