"""`python -m bigcodec_jax.data.make_corpus`: synthesise the small offline speech corpus with espeak-ng.

The corpus lets the demo and the tests train on speech without any download. Each sentence is
spoken by one of several voices at its own rate and pitch (chosen with a fixed seed), resampled
to 16 kHz and written as 16-bit FLAC; `train.txt` and `heldout.txt` list the files in the official
`path|text` format, paths relative to the list. Held-out sentences are never spoken in training.
The committed corpus was made with eSpeak NG 1.51; rerunning with another version changes the audio.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import librosa
import numpy as np
import soundfile as sf

from bigcodec_jax.audio import SAMPLE_RATE, as_batch
from bigcodec_jax.data.corpus import DEFAULT_CORPUS_DIR, HELDOUT_LIST, TRAIN_LIST

# espeak-ng voice (language + variant): male, female and synthetic timbres, several accents
VOICES = ("en-us+m3", "en-us+f2", "en-gb+m1", "en-gb+f4", "en-gb-scotland+m7", "en-029+f3",
          "en-gb-x-rp+m5", "en-us+f5")
HELDOUT_EVERY = 7  # every 7th sentence is held out

SENTENCES = (
    "Good morning.",
    "The quick brown fox jumps over the lazy dog.",
    "Please bring the blue folder to the second floor before noon.",
    "It rained all night, and by morning the river had climbed over the old stone wall at the end of the lane.",
    "Seven.",
    "Where did you put the keys?",
    "A codec squeezes speech into a few numbers and then rebuilds the sound from them.",
    "The train to the coast leaves at a quarter past nine, so we should leave the house no later than half past eight.",
    "Thank you very much.",
    "She measured the flour twice, because the recipe was written in a hand nobody could read.",
    "Turn left at the bakery.",
    "On clear winter evenings the lighthouse keeper counted the ships that passed, writing each name in a thick green book.",
    "Numbers such as forty two, one hundred and six, and three thousand are read aloud.",
    "Why not?",
    "The committee will meet again on Thursday to discuss the budget for next year.",
    "My grandmother kept bees in the orchard behind her cottage.",
    "Listen carefully: the signal fades, then returns, then fades again.",
    "He opened the window, let the cold air in, and watched the snow settle quietly on the empty street below.",
    "Yes, absolutely.",
    "Every sentence in this small corpus was written for the project and spoken by a machine.",
    "The bridge was painted red so that it could be seen through the fog.",
    "Could you repeat the last part a little more slowly, please?",
    "Twelve apples, four pears and a basket of plums.",
    "After the storm the village gathered in the square to count what the wind had taken and what it had left behind.",
    "Stop!",
    "The library lends books, maps, records and, on request, a very old telescope.",
    "A small boat drifted past the harbour with nobody on board.",
    "In the autumn the forest smells of wet leaves and wood smoke.",
    "I think so.",
    "The children built a tower of wooden blocks until it was taller than the kitchen table.",
    "Mountains to the north, the sea to the south, and between them a long valley full of vineyards.",
    "The recording starts now.",
    "If the kettle whistles, take it off the stove and pour the water slowly over the leaves.",
    "Good night, and sleep well.",
    "The astronomer pointed the telescope at a faint smudge of light that turned out to be a distant galaxy.",
    "Bread, cheese and a flask of coffee were all we needed for the walk.",
    "How far is it to the station?",
    "Snow fell on the rooftops, on the gardens and on the silent railway line.",
    "We will need a larger table for the guests.",
    "The old clock in the hall strikes thirteen times at midnight, and nobody has ever managed to fix it.",
    "Pass the salt, please.",
    "Some words are whispered, some are shouted, and most are simply spoken.",
    "On the first day of spring the market fills with flowers, radishes, young onions and baskets of eggs.",
    "That is correct.",
    "The doctor asked him to breathe in deeply and hold his breath for a moment.",
    "Letters arrive on Tuesdays and Fridays.",
    "They painted the fence white, but the neighbour's dog had other plans for the fresh paint.",
    "Ready when you are.",
)


def require_espeak() -> str:
    """The espeak-ng executable, or SystemExit naming the package to install."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("make_corpus: espeak-ng is not installed; install the `espeak-ng` package "
                         "(Debian/Ubuntu: apt-get install -y espeak-ng) and run again")
    return exe


def speak(exe: str, text: str, voice: str, words_per_minute: int, pitch: int) -> np.ndarray:
    """float32 16 kHz mono speech of `text` from espeak-ng (which writes 22.05 kHz wav)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "speech.wav")
        subprocess.run([exe, "-v", voice, "-s", str(words_per_minute), "-p", str(pitch), "-w", path, text],
                       check=True, capture_output=True)
        wav, rate = sf.read(path, dtype="float32")
    wav = as_batch(wav, rate)[0]
    _, (start, end) = librosa.effects.trim(wav, top_db=45)  # espeak-ng leaves long trailing silence
    margin = SAMPLE_RATE // 10
    return wav[max(start - margin, 0):end + margin]


def remove_old_audio(out_dir: str) -> None:
    """Delete FLACs left by an earlier run, so renamed utterances do not linger."""
    for part in ("train", "heldout"):
        folder = os.path.join(out_dir, part)
        for name in os.listdir(folder) if os.path.isdir(folder) else ():
            if name.endswith(".flac"):
                os.unlink(os.path.join(folder, name))


def make_corpus(out_dir: str, seed: int = 0) -> tuple[int, float]:
    """Write the corpus into `out_dir`; returns (number of files, seconds of audio)."""
    exe = require_espeak()
    remove_old_audio(out_dir)
    rng = np.random.default_rng(seed)
    lists = {TRAIN_LIST: [], HELDOUT_LIST: []}
    seconds = 0.0
    for i, text in enumerate(SENTENCES):
        voice = VOICES[i % len(VOICES)]
        words_per_minute, pitch, peak = int(rng.integers(140, 221)), int(rng.integers(20, 81)), rng.uniform(0.25, 0.8)
        wav = speak(exe, text, voice, words_per_minute, pitch)
        wav = (wav * (peak / max(float(np.abs(wav).max()), 1e-6))).astype(np.float32)
        part = "heldout" if i % HELDOUT_EVERY == HELDOUT_EVERY - 1 else "train"
        name = f"{part}/{i:03d}_{voice.replace('+', '_')}_s{words_per_minute}_p{pitch}.flac"
        os.makedirs(os.path.join(out_dir, part), exist_ok=True)
        sf.write(os.path.join(out_dir, name), wav, SAMPLE_RATE, subtype="PCM_16")
        lists[HELDOUT_LIST if part == "heldout" else TRAIN_LIST].append(f"{name}|{text}")
        seconds += len(wav) / SAMPLE_RATE
    for list_name, lines in lists.items():
        with open(os.path.join(out_dir, list_name), "w") as f:
            f.write("\n".join(lines) + "\n")
    return len(SENTENCES), seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bigcodec_jax.data.make_corpus", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default=DEFAULT_CORPUS_DIR, help="corpus folder (default: the packaged one)")
    parser.add_argument("--seed", type=int, default=0, help="seed for rates, pitches and levels")
    args = parser.parse_args(argv)
    count, seconds = make_corpus(args.output, args.seed)
    print(f"wrote {count} utterances, {seconds:.1f} s of 16 kHz speech, to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
