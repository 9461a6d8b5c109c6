"""Container names: docker's rules for what a name may be, and docker-style generated names.

A generated name is ``<adjective>_<surname of a scientist or engineer>`` (``hungry_hodgkin``),
as docker makes them; on a clash a digit is appended (docker's retry rule).
"""

from __future__ import annotations

import os

from ..errors import InvalidArgument

_ADJECTIVES = """
admiring adoring affectionate agitated amazing angry awesome beautiful blissful bold boring
brave busy charming clever compassionate competent condescending confident cool cranky crazy
dazzling determined distracted dreamy eager ecstatic elastic elated elegant eloquent epic
exciting fervent festive flamboyant focused friendly frosty funny gallant gifted goofy gracious
great happy hardcore heuristic hopeful hungry infallible inspiring intelligent interesting
jolly jovial keen kind laughing loving lucid magical modest musing mystifying naughty nervous
nice nifty nostalgic objective optimistic peaceful pedantic pensive practical priceless quirky
quizzical recursing relaxed reverent romantic sad serene sharp silly sleepy stoic strange
stupefied suspicious sweet tender thirsty trusting unruffled upbeat vibrant vigilant vigorous
wizardly wonderful xenodochial youthful zealous zen
""".split()

_SURNAMES = """
agnesi albattani allen almeida antonelli archimedes ardinghelli aryabhata austin babbage
banach banzai bardeen bartik bassi beaver bell benz bhabha bhaskara black blackburn blackwell
bohr booth borg bose bouman boyd brahmagupta brattain brown buck burnell cannon carson cartwright
carver cerf chandrasekhar chaplygin chatelet chatterjee chaum chebyshev clarke cohen colden
cori cray curie darwin davinci dewdney dhawan diffie dijkstra dirac driscoll dubinsky easley
edison einstein elbakyan elgamal elion ellis engelbart euclid euler faraday feistel fermat fermi
feynman franklin gagarin galileo galois ganguly gates gauss germain goldberg goldstine goldwasser
golick goodall gould greider grothendieck haibt hamilton haslett hawking heisenberg hellman
hermann herschel hertz heyrovsky hodgkin hofstadter hoover hopper hugle hypatia ishizaka jackson
jang jemison jennings jepsen johnson joliot jones kalam kapitsa kare keldysh keller kepler khayyam
khorana kilby kirch knuth kowalevski lalande lamarr lamport leakey leavitt lederberg lehmann
lewin lichterman liskov lovelace lumiere mahavira margulis matsumoto maxwell mayer mccarthy
mcclintock mclaren mclean mcnulty meitner mendel mendeleev meninsky merkle mestorf mirzakhani
montalcini moore morse moser murdock napier nash neumann newton nightingale nobel noether
northcutt noyce panini pare pascal pasteur payne perlman pike poincare poitras proskuriakova
ptolemy raman ramanujan rhodes ride ritchie robinson roentgen rosalind rubin saha sammet sanderson
satoshi shamir shannon shaw shirley shockley shtern sinoussi snyder solomon spence stonebraker
sutherland swanson swartz swirles taussig tesla tharp thompson torvalds tu turing varahamihira
vaughan villani visvesvaraya volhard wescoff wilbur wiles williams williamson wilson wing wozniak
wright wu yalow yonath zhukovsky
""".split()

#: docker's name grammar: ``[a-zA-Z0-9][a-zA-Z0-9_.-]+``
_FIRST = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_REST = _FIRST | set("_.-")


def is_name(bare: str) -> bool:
    """Could a container be called this (no leading slash)?"""
    return len(bare) >= 2 and bare[0] in _FIRST and all(c in _REST for c in bare[1:])


def check_name(name: str) -> str:
    """The name without a leading slash, if docker would accept it; else InvalidArgument."""
    bare = name[1:] if name.startswith("/") else name
    if not is_name(bare):
        raise InvalidArgument(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    return bare


def generate_name(retry: int = 0) -> str:
    name = f"{_pick(_ADJECTIVES)}_{_pick(_SURNAMES)}"
    if name == "boring_wozniak":  # as docker: Steve Wozniak is not boring
        return generate_name(retry)
    return f"{name}{_below(10)}" if retry else name


def _below(n: int) -> int:
    """A random number below ``n`` from the kernel (``secrets`` costs ~5 ms of import on
    ``run``'s path for what eight bytes do; the bias of a 64-bit modulo is nil here)."""
    return int.from_bytes(os.urandom(8), "little") % n


def _pick(items):
    return items[_below(len(items))]
