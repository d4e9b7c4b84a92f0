"""Regenerates the synthetic calibration fixtures (see README.md)."""
import gzip
import json
import random

random.seed(1234)
subjects = ["The committee", "A small bakery", "Our neighbour", "The river", "Engineers", "The old library", "A migrating flock", "The city council", "Local farmers", "The orchestra", "Researchers", "The ferry", "A young pianist", "The museum", "Volunteers"]
verbs = ["announced", "repaired", "discovered", "painted", "measured", "celebrated", "questioned", "recorded", "planted", "translated", "delivered", "studied", "organised", "photographed", "rebuilt"]
objects = ["the northern bridge", "a series of maps", "the winter harvest", "several rare manuscripts", "the evening concert", "a new timetable", "the water levels", "an unusual fossil", "the town square", "dozens of letters", "the signal tower", "a quiet garden", "the annual report", "the mountain trail", "a wooden boat"]
tails = ["after a long debate.", "before the first snow.", "with remarkable care.", "despite the heavy rain.", "for the third year in a row.", "in less than a week.", "to everyone's surprise.", "using only hand tools.", "while the crowd watched.", "at the end of the season."]
extra = ["Numbers like 42, 3.14 and 1,024 appeared in the notes.", "Some said it was the best result since 1998.", "Questions remained, but the mood was hopeful.", "\"We will try again,\" said one of them.", "Prices rose by 7% over the period.", "The data were shared openly online."]


def sentence():
    s = f"{random.choice(subjects)} {random.choice(verbs)} {random.choice(objects)} {random.choice(tails)}"
    if random.random() < 0.25:
        s += " " + random.choice(extra)
    return s


docs = []
for i in range(48):
    n = random.choice([3, 5, 8, 12, 20, 30, 40])
    docs.append(" ".join(sentence() for _ in range(n)))
with open("c4-sample.jsonl", "w") as f:
    for i, d in enumerate(docs):
        f.write(json.dumps({"text": d, "timestamp": "2019-04-25T12:57:54Z", "url": f"https://example.com/{i}"}) + "\n")
with gzip.open("c4-sample.json.gz", "wt") as f:
    for i, d in enumerate(docs[:24]):
        f.write(json.dumps({"text": d, "url": f"https://example.com/{i}"}) + "\n")
with open("wiki.train.raw", "w") as f:
    f.write(" \n = Synthetic article = \n \n")
    for d in docs[24:]:
        f.write(" " + d + " \n \n")
