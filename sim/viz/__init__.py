"""Drawing a trace: the timeline PNG (``timeline``) and ``raftsim plot`` (``cli``)."""
