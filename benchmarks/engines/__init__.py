"""Each engine through the runtime against the bare library on the same model file.

    python -m benchmarks.engines [--quick] [--only llm,stt,...] [--json PATH]

One module per engine group (``llm``, ``stt``, ``tts``, ``ocr``, ``detect``, ``vad``,
``wake``), what they share in ``base``, and the command in ``run``.
"""
