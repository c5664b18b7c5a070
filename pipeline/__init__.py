"""The top floor: the ``slices`` command line (:mod:`pipeline.cli`) and the runs it drives: end-to-end generation
(:func:`pipeline.generate.generate`: sample -> decode -> screen -> write), run folders, reports and Dask.

```python
from pipeline.generate import generate
from pipeline.options import Sampling, Runner
from pipeline.criteria import Criteria
result = generate(Sampling(n=20, band_gap=2.0), Criteria(band_gap=2.0), out="run/")
```

Screening of one's own crystals is :func:`screening.assess`, a floor below.
"""
