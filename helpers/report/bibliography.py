"""The report's references: every paper that the notebooks, the helpers' docstrings and the
report's own sections cite (Goodfellow et al. 2015 for FGSM, Madry et al. 2018 for PGD, ...)."""
from __future__ import annotations

from typing import Iterable

# (citation as the text writes it, full reference in markdown), in alphabetical order.
REFERENCES: list[tuple[str, str]] = [
    ("Anders et al. 2021", "C. J. Anders, D. Neumann, W. Samek, K.-R. Müller, S. Lapuschkin. *Software for "
                           "Dataset-wide XAI: From Local Explanations to Global Insights with Zennit, CoRelAy, and "
                           "ViRelAy.* arXiv:2106.13200, 2021 (zennit)."),
    ("Bach et al. 2015", "S. Bach, A. Binder, G. Montavon, F. Klauschen, K.-R. Müller, W. Samek. *On Pixel-Wise "
                         "Explanations for Non-Linear Classifier Decisions by Layer-Wise Relevance Propagation.* PLOS "
                         "ONE 10 (7), 2015 (LRP)."),
    ("Croce & Hein 2020", "F. Croce, M. Hein. *Reliable Evaluation of Adversarial Robustness with an Ensemble of "
                          "Diverse Parameter-free Attacks.* ICML 2020 (APGD-CE, APGD-DLR, AutoAttack)."),
    ("Efron & Tibshirani 1993", "B. Efron, R. J. Tibshirani. *An Introduction to the Bootstrap.* Chapman & Hall, 1993 "
                                "(the paired bootstrap)."),
    ("Fang et al. 2023", "G. Fang, X. Ma, M. Song, M. Bi Mi, X. Wang. *DepGraph: Towards Any Structural Pruning.* "
                         "CVPR 2023 (the Torch-Pruning library)."),
    ("Frankle & Carbin 2019", "J. Frankle, M. Carbin. *The Lottery Ticket Hypothesis: Finding Sparse, Trainable "
                              "Neural Networks.* ICLR 2019 (lottery tickets)."),
    ("Frankle et al. 2020", "J. Frankle, G. K. Dziugaite, D. M. Roy, M. Carbin. *Linear Mode Connectivity and the "
                            "Lottery Ticket Hypothesis.* ICML 2020 (rewinding)."),
    ("Goodfellow et al. 2015", "I. J. Goodfellow, J. Shlens, C. Szegedy. *Explaining and Harnessing Adversarial "
                               "Examples.* ICLR 2015 (FGSM)."),
    ("Han et al. 2015", "S. Han, J. Pool, J. Tran, W. J. Dally. *Learning both Weights and Connections for Efficient "
                        "Neural Networks.* NeurIPS 2015 (magnitude pruning)."),
    ("He et al. 2016", "K. He, X. Zhang, S. Ren, J. Sun. *Deep Residual Learning for Image Recognition.* CVPR 2016 "
                       "(residual networks)."),
    ("Hinton et al. 2015", "G. Hinton, O. Vinyals, J. Dean. *Distilling the Knowledge in a Neural Network.* "
                           "arXiv:1503.02531, 2015 (knowledge distillation)."),
    ("Jacob et al. 2018", "B. Jacob, S. Kligys, B. Chen, M. Zhu, M. Tang, A. Howard, H. Adam, D. Kalenichenko. "
                          "*Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only "
                          "Inference.* CVPR 2018 (int8 quantization)."),
    ("Li et al. 2017", "H. Li, A. Kadav, I. Durdanovic, H. Samet, H. P. Graf. *Pruning Filters for Efficient "
                       "ConvNets.* ICLR 2017 (filter pruning)."),
    ("Liu et al. 2017", "Z. Liu, J. Li, Z. Shen, G. Huang, S. Yan, C. Zhang. *Learning Efficient Convolutional "
                        "Networks through Network Slimming.* ICCV 2017 (network slimming)."),
    ("Loshchilov & Hutter 2019", "I. Loshchilov, F. Hutter. *Decoupled Weight Decay Regularization.* ICLR 2019 "
                                 "(AdamW)."),
    ("Madry et al. 2018", "A. Madry, A. Makelov, L. Schmidt, D. Tsipras, A. Vladu. *Towards Deep Learning Models "
                          "Resistant to Adversarial Attacks.* ICLR 2018 (PGD, adversarial training)."),
    ("McNemar 1947", "Q. McNemar. *Note on the Sampling Error of the Difference between Correlated Proportions or "
                     "Percentages.* Psychometrika 12 (2), 153–157, 1947 (McNemar's test)."),
    ("Papernot et al. 2016", "N. Papernot, P. McDaniel, I. Goodfellow. *Transferability in Machine Learning: from "
                             "Phenomena to Black-Box Attacks using Adversarial Samples.* arXiv:1605.07277, 2016."),
    ("Rice et al. 2020", "L. Rice, E. Wong, J. Z. Kolter. *Overfitting in Adversarially Robust Deep Learning.* "
                         "ICML 2020."),
    ("Selvaraju et al. 2017", "R. R. Selvaraju, M. Cogswell, A. Das, R. Vedantam, D. Parikh, D. Batra. *Grad-CAM: "
                              "Visual Explanations from Deep Networks via Gradient-based Localization.* ICCV 2017."),
    ("Simonyan et al. 2014", "K. Simonyan, A. Vedaldi, A. Zisserman. *Deep Inside Convolutional Networks: "
                             "Visualising Image Classification Models and Saliency Maps.* ICLR workshop 2014."),
    ("Wilson 1927", "E. B. Wilson. *Probable Inference, the Law of Succession, and Statistical Inference.* Journal "
                    "of the American Statistical Association 22 (158), 209–212, 1927 (the Wilson score interval)."),
    ("Wong et al. 2020", "E. Wong, L. Rice, J. Z. Kolter. *Fast is Better than Free: Revisiting Adversarial "
                         "Training.* ICLR 2020 (FGSM with a random start, FGSM-RS)."),
    ("Yeom et al. 2021", "S.-K. Yeom, P. Seegerer, S. Lapuschkin, A. Binder, S. Wiedemann, K.-R. Müller, W. Samek. "
                         "*Pruning by Explaining: A Novel Criterion for Deep Neural Network Pruning.* Pattern "
                         "Recognition 115, 2021 (relevance pruning)."),
]


def _author_year(cite: str) -> tuple[str, str]:
    return cite.split()[0].rstrip(","), cite.split()[-1]


def cited(texts: Iterable[str]) -> list[str]:
    """The citations of REFERENCES that `texts` cite: by the citation as written ('Madry et al. 2018',
    'McNemar 1947'), or by first author and year in a longer form ('Wong, Rice & Kolter 2020')."""
    from .checks import _CITATION
    body = " ".join(texts)
    found = {(m.group(1), m.group(2)) for m in _CITATION.finditer(body)}
    return [cite for cite, _ in REFERENCES if cite in body or _author_year(cite) in found]


def references_markdown(texts: Iterable[str] | None = None) -> str:
    """The references section: one paragraph per work, in alphabetical order of the citation; given
    the report's `texts`, only the works they cite (a reference list cites nothing on its own)."""
    keep = set(cited(texts)) if texts is not None else {cite for cite, _ in REFERENCES}
    return "# References\n\n" + "\n\n".join(f"**{cite}.** {full}" for cite, full in REFERENCES if cite in keep)
