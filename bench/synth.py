"""Reproducible synthetic listings, so the scale curve measures parsing as well as search.

Real listings stop at 2,610 records (one conference), so larger corpora are generated. They
are written in the formats users ingest (paperlists JSON and papers.cool text), so ``ingest``
parses them exactly as it parses real files. Everything is drawn from a seeded RNG:

* abstracts recombine whole sentences of the bundled abstracts, each from a different paper,
  so vocabulary and sentence shapes are real but no distractor duplicates a real oral;
* titles come from templates over an ML vocabulary; they are unique and never equal a real
  title, so the merge step cannot fold a distractor into a real paper;
* author names pair real first and last names, never recreating a real author's full name,
  so the author questions' gold answers stay the only right ones;
* statuses follow a conference's mix (about 5% orals), so "which orals ..." questions meet
  distractor orals, not only posters a status filter would remove.

A title-only corpus (no abstracts, like real metadata dumps) is paperlists JSON only: the
papers.cool page format always carries an abstract.

    python -m bench.synth --out /tmp/synth --records 10000 --seed 7
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingest.chunking import split_sentences
from ingest.parsers import parse_listing
from ingest.records import PaperRecord, normalize_text

#: Venue-years the distractors claim; ICML 2024 is excluded because its real listing is loaded.
VENUE_YEARS: tuple[tuple[str, int], ...] = (
    ("NeurIPS", 2023), ("ICLR", 2024), ("NeurIPS", 2022), ("ICLR", 2023), ("ICML", 2023),
    ("ICLR", 2025), ("NeurIPS", 2024), ("ICML", 2022), ("ICML", 2025), ("NeurIPS", 2021),
)  # fmt: skip
#: Status mix of a large ML conference (ICML 2024: 144 orals, 191 spotlights of 2,610).
STATUSES: tuple[tuple[str, float], ...] = (("Oral", 0.055), ("Spotlight", 0.075), ("Poster", 0.87))
#: Records per written file; real paperlists files hold one conference (2-15k records).
FILE_SIZE = 5000

ADJECTIVES = (
    "Scalable Efficient Robust Provable Adaptive Sparse Hierarchical Contrastive Federated "
    "Differentiable Causal Bayesian Private Stable Fast Unified Generalizable Interpretable Fair "
    "Continual Offline Multimodal Self-Supervised Equivariant Structured Implicit Decentralized "
    "Calibrated Memory-Efficient Data-Efficient Zero-Shot Few-Shot Lightweight Distributional "
    "Nonparametric Stochastic Invariant Online Compositional Geometric"
).split()
METHODS = (
    "Transformers|Diffusion Models|Graph Neural Networks|Kernel Methods|Gradient Descent|"
    "Policy Optimization|Mixture of Experts|Normalizing Flows|Variational Inference|"
    "State Space Models|Low-Rank Adapters|Neural ODEs|Language Models|Vision Transformers|"
    "Gaussian Processes|Reward Models|Score Matching|Optimal Transport|Contrastive Learning|"
    "Knowledge Distillation|Attention|Tree Search|Bandit Algorithms|Energy-Based Models|"
    "Autoencoders|Sparse Coding|Message Passing|Random Features|Prompt Tuning|Quantization|"
    "Pruning|Data Augmentation|Meta-Learning|Boosting|Spectral Methods|Langevin Dynamics|"
    "Flow Matching|Hypernetworks|Recurrent Networks|Retrieval Augmentation"
).split("|")
TASKS = (
    "Time Series Forecasting|Molecular Generation|Image Segmentation|Protein Design|"
    "Causal Discovery|Domain Adaptation|Anomaly Detection|Offline Reinforcement Learning|"
    "Code Generation|Speech Recognition|Recommendation|Combinatorial Optimization|"
    "Question Answering|Tabular Data|Point Clouds|Neural Architecture Search|"
    "Hyperparameter Optimization|Out-of-Distribution Detection|Semi-Supervised Learning|"
    "Active Learning|Symbolic Regression|Weather Prediction|Robotic Manipulation|"
    "Text-to-Image Generation|Long-Context Modeling|Mathematical Reasoning|Link Prediction|"
    "Object Detection|Video Understanding|Federated Learning|Continual Learning|"
    "Imitation Learning|Survival Analysis|Uncertainty Quantification|Multi-Agent Coordination|"
    "Neural Rendering|Drug Discovery|Physics Simulation|Machine Translation|Clustering"
).split("|")
PROPERTIES = (
    "Convergence|Generalization|Sample Complexity|Robustness|Expressivity|Implicit Bias|"
    "Calibration|Stability|Identifiability|Optimality|Scaling Laws|Memorization|Privacy|"
    "Fairness|Emergence|Loss Landscape"
).split("|")
TEMPLATES = (
    "{acr}: {adj} {method} for {task}",
    "{adj} {method} for {task}",
    "On the {prop} of {adj} {method}",
    "Towards {adj} {task} with {method}",
    "{method} Meets {method2}: {adj} {task}",
    "Rethinking {method} for {adj} {task}",
    "{acr}: Learning {task} via {adj} {method}",
    "When Do {adj} {method} Help {task}?",
    "Understanding the {prop} of {method} in {task}",
    "Position: {task} Needs {adj} {method}",
    "A Theory of {prop} in {adj} {method}",
    "{prop} Guarantees for {adj} {method} in {task}",
)
_ACR_HEADS = "Neo Flex Sparse Graph Fast Meta Omni Hyper Deep Quant Luna Astra Pico Zeta Nova Tensor Orca Lynx Kite Vega".split()
_ACR_TAILS = "Net Former GPT Diff Flow TS RL Bench Gen Seg Mix Tune Fusion Lens".split()


@dataclass
class SynthPaper:
    """One generated paper, before it is written in a listing format."""

    title: str
    authors: list[str]
    abstract: str | None
    venue: str
    year: int
    status: str
    key: str


@dataclass
class Material:
    """What the generator recombines: real sentences, real name parts, titles to avoid."""

    sentences: list[list[str]]  # per source abstract
    first_names: list[str]
    last_names: list[str]
    real_names: set[str] = field(default_factory=set)
    avoid_titles: set[str] = field(default_factory=set)


def load_material(listings: Sequence[Path], avoid: Iterable[Path] = ()) -> Material:
    """Sentences and name parts from the bundled listings; titles of ``avoid`` listings too."""
    records: list[PaperRecord] = []
    for path in sorted(listings):
        records.extend(parse_listing(path).records)
    seen_abstracts: set[str] = set()
    sentences: list[list[str]] = []
    firsts: set[str] = set()
    lasts: set[str] = set()
    real_names: set[str] = set()
    titles: set[str] = set()
    for record in records:
        if record.abstract and normalize_text(record.abstract)[:200] not in seen_abstracts:
            seen_abstracts.add(normalize_text(record.abstract)[:200])
            usable = [s for s in split_sentences(record.abstract) if 40 <= len(s) <= 400]
            if usable:
                sentences.append(usable)
        for name in record.authors:
            parts = name.split()
            real_names.add(normalize_text(name))
            if len(parts) >= 2 and parts[0].isalpha() and parts[-1].replace("-", "").isalpha():
                firsts.add(parts[0])
                lasts.add(parts[-1])
        if record.title:
            titles.add(normalize_text(record.title))
    for path in avoid:
        titles.update(normalize_text(r.title) for r in parse_listing(path).records if r.title)
    return Material(sentences, sorted(firsts), sorted(lasts), real_names, titles)


class Generator:
    """Seeded source of unique synthetic papers; one instance keeps titles unique across calls."""

    def __init__(self, material: Material, seed: int) -> None:
        if not material.sentences or not material.first_names:
            raise ValueError("no abstracts or author names to recombine: pass the bundled listings")
        self.material = material
        self.rng = random.Random(seed)
        self.used_titles: set[str] = set(material.avoid_titles)
        self.count = 0

    def papers(self, n: int, with_abstracts: bool) -> list[SynthPaper]:
        return [self.paper(with_abstracts) for _ in range(n)]

    def paper(self, with_abstract: bool) -> SynthPaper:
        rng = self.rng
        venue, year = VENUE_YEARS[rng.randrange(len(VENUE_YEARS))]
        status = rng.choices([s for s, _ in STATUSES], weights=[w for _, w in STATUSES])[0]
        self.count += 1
        return SynthPaper(
            title=self._title(),
            authors=self._authors(),
            abstract=self._abstract() if with_abstract else None,
            venue=venue,
            year=year,
            status=status,
            key=f"syn{self.count:07d}",
        )

    def _title(self) -> str:
        rng = self.rng
        while True:
            method, method2 = rng.sample(METHODS, 2)
            acronym = rng.choice(_ACR_HEADS) + rng.choice(_ACR_TAILS)
            if rng.random() < 0.3:
                acronym += str(rng.randint(2, 9))
            title = rng.choice(TEMPLATES).format(
                acr=acronym, adj=rng.choice(ADJECTIVES), method=method, method2=method2,
                task=rng.choice(TASKS), prop=rng.choice(PROPERTIES),
            )  # fmt: skip
            key = normalize_text(title)
            if key not in self.used_titles:
                self.used_titles.add(key)
                return title

    def _authors(self) -> list[str]:
        rng, m = self.rng, self.material
        count = min(12, 1 + int(rng.expovariate(1 / 3.5)))
        names: list[str] = []
        while len(names) < count:
            name = f"{rng.choice(m.first_names)} {rng.choice(m.last_names)}"
            if normalize_text(name) not in m.real_names and name not in names:
                names.append(name)
        return names

    def _abstract(self) -> str:
        rng, pool = self.rng, self.material.sentences
        sources = rng.sample(range(len(pool)), k=min(len(pool), rng.randint(4, 8)))
        return " ".join(rng.choice(pool[i]) for i in sources)


# ------------------------------------------------------------------------------- writing


def _paperlists_item(paper: SynthPaper) -> dict[str, object]:
    item: dict[str, object] = {
        "id": paper.key,
        "title": paper.title,
        "track": "main",
        "status": paper.status,
        "author": ";".join(paper.authors),
        "site": f"https://synthetic.invalid/{paper.venue.lower()}{paper.year}/{paper.key}",
    }
    if paper.abstract:
        item["abstract"] = paper.abstract
    return item


def _paperscool_text(papers: Sequence[SynthPaper], rng: random.Random) -> str:
    first = papers[0]
    lines = [f"{first.venue}.{first.year} - {first.status}", "", f"| Total: {len(papers)}", ""]
    for i, paper in enumerate(papers, start=1):
        lines += [
            f"#{i} {paper.title} [PDF{rng.randint(1, 99)}] [Copy] [Kimi{rng.randint(1, 99)}] [REL]",
            "",
            "Authors: " + " ; ".join(paper.authors),
            "",
            paper.abstract or "",
            "",
        ]
    return "\n".join(lines)


def write_listings(papers: Sequence[SynthPaper], out_dir: Path, prefix: str, seed: int) -> list[Path]:
    """Write papers as listing files; with abstracts, every other venue-year as papers.cool.

    Files are grouped by venue-year (as real listings are), split at :data:`FILE_SIZE`, and
    papers.cool pages hold one status each, as the site's pages do.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    by_venue: dict[tuple[str, int], list[SynthPaper]] = {}
    for paper in papers:
        by_venue.setdefault((paper.venue, paper.year), []).append(paper)
    paths: list[Path] = []
    for number, ((venue, year), group) in enumerate(sorted(by_venue.items())):
        as_text = number % 2 == 1 and all(p.abstract for p in group)
        for part, start in enumerate(range(0, len(group), FILE_SIZE)):
            block = group[start : start + FILE_SIZE]
            stem = f"{prefix}-{venue.lower()}{year}-{part}"
            if as_text:
                for status in sorted({p.status for p in block}):
                    path = out_dir / f"{stem}-{status.lower()}.txt"
                    path.write_text(_paperscool_text([p for p in block if p.status == status], rng), "utf-8")
                    paths.append(path)
            else:
                path = out_dir / f"{stem}_{venue.lower()}{year}.json"
                path.write_text(json.dumps([_paperlists_item(p) for p in block], indent=1), "utf-8")
                paths.append(path)
    return paths


def write_steps(
    material: Material, out_dir: Path, steps: Sequence[tuple[int, bool]], seed: int
) -> list[list[Path]]:
    """Write one directory of listings per step ``(records, with_abstracts)``, in order.

    Steps share one generator, so titles stay unique across them and step ``k`` is the same
    whatever steps come after it: a capped run reproduces the prefix of a full run.
    """
    generator = Generator(material, seed)
    written: list[list[Path]] = []
    for number, (count, with_abstracts) in enumerate(steps):
        papers = generator.papers(count, with_abstracts)
        step_dir = out_dir / f"step{number}"
        written.append(write_listings(papers, step_dir, f"synth{number}", seed + number))
    return written


def main(argv: Sequence[str] | None = None) -> None:
    from app.settings import BUNDLED_LISTINGS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory to write listings into")
    parser.add_argument("--records", type=int, required=True, help="how many papers to generate")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-abstracts", action="store_true", help="titles and authors only")
    args = parser.parse_args(argv)
    material = load_material(sorted(BUNDLED_LISTINGS.iterdir()))
    paths = write_steps(material, args.out, [(args.records, not args.no_abstracts)], args.seed)[0]
    print(f"wrote {args.records} papers in {len(paths)} files under {args.out}")


if __name__ == "__main__":
    main()
