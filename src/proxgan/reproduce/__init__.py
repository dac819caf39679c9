"""The whole paper in one pipeline: ``proxgan reproduce --scale tiny|quick|cpu|gpu --out DIR``.

Farnia & Ozdaglar (ICML 2020), stage by stage in the paper's order (:mod:`proxgan.reproduce.stages`): the
GDA family on min θ·φ, the Gaussian games of Theorems 1–3, trained GANs (§2, §6), the Nash test (eq. 5),
the proximal-equilibrium test (eq. 19) and Table 1 (§6.2). Each stage writes ``DIR/<stage>/results.json``
and its figures; ``DIR/results.json`` collects their summaries and the verdicts, ``DIR/report.html`` shows
them (:mod:`proxgan.reproduce.pipeline`).

- :mod:`~proxgan.reproduce.scales`: the typed settings of every stage at each scale (:data:`SCALES`);
- :mod:`~proxgan.reproduce.stages`: one function per stage, and :data:`STAGES`;
- :mod:`~proxgan.reproduce.runs`: the single runs a stage hands to the worker pool;
- :mod:`~proxgan.reproduce.figures`: Table 1's figures;
- :mod:`~proxgan.reproduce.pipeline`: stage selection and order, resuming, parallel runs, results, report.
"""

from proxgan.reproduce.pipeline import REPORT_NAME, run_pipeline, select_stages, unavailable_module, write_report
from proxgan.reproduce.runs import METRIC_VALUES, sample_quality, training_config, training_seconds
from proxgan.reproduce.scales import SCALES, ProximalVariant, Scale, Table1Settings, TrainSettings, get_scale
from proxgan.reproduce.stages import STAGES, Context, Stage
