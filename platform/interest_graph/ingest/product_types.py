"""Product types of Online Retail descriptions: the head noun, without colour, size or design words.

The dataset has no categories. Its descriptions name the product and then, often, its colour,
size, motif or design range: ``JUMBO BAG RED RETROSPOT``, ``ALARM CLOCK BAKELIKE PINK``,
``HAND WARMER BIRD DESIGN``, ``WRAP COWBOYS``, ``METAL SIGN TAKE IT OR LEAVE IT``. The product
type is found in two steps:

1. The *candidates* of a description are its words that are not modifiers (colour, size, style,
   range, filler, or a participle or gerund such as ``ETCHED`` or ``MAKING``), folded to the
   singular.
2. Over the whole catalogue, a candidate that ends at least :data:`MIN_HEADS` descriptions is a
   known product noun. The product type is the rightmost known noun that is not a motif
   (``HEART``, ``BIRD``: usually a design on another product); failing that, the rightmost
   candidate (``ARTIFICIAL FLOWER`` is a ``FLOWER``).

So ``WRAP COWBOYS`` is a ``WRAP`` (``COWBOY`` ends too few descriptions) and ``HAND WARMER BIRD
DESIGN`` a ``WARMER``. Segment labels are built from these types, so a modifier that slipped
through would read as a label such as "Retrospot · Pink". The word lists were read off the
catalogue's most frequent trailing words; a word missing from them only makes that item's type
less precise.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

_WORD = re.compile(r"[A-Z][A-Z'\-]+")

#: Colours and colour words (``ASSORTED COLOUR``), including gem and metal finishes.
COLOURS = frozenset("""
    RED PINK BLUE GREEN WHITE BLACK CREAM IVORY GOLD SILVER BROWN PURPLE ORANGE YELLOW GREY GRAY
    TURQUOISE LILAC LAVENDER AQUA TEAL NAVY BEIGE FUCHSIA FUSCHIA MAGENTA CHOCOLATE NATURAL COPPER
    BRONZE AMBER JET RUBY SAPPHIRE EMERALD AMETHYST CRYSTAL CLEAR PASTEL MULTICOLOUR COLOUR COLOURS
    COLOURED COL ASSORTED ASST ASSTD MONOCHROME
""".split())

#: Sizes, shapes and units.
SIZES = frozenset("""
    SMALL LARGE MEDIUM MINI JUMBO GIANT BIG TINY TALL LONG SIZE CM MM SINGLE DOUBLE ROUND SQUARE
    RECT RECTANGLE OVAL TIER
""".split())

#: Patterns, materials, finishes and styles.
STYLES = frozenset("""
    DESIGN DESIGNS PATTERN PRINT PRINTED PAINTED PADDED RUSTIC HANGING VINTAGE ANTIQUE RETRO
    EDWARDIAN VICTORIAN SCANDINAVIAN FINISH STYLE RETROSPOT POLKADOT POLKA DOT DOTS SPOT SPOTS
    SPOTTY STRIPE STRIPES STRIPY GINGHAM FLORAL PAISLEY FLOCK GLITTER DIAMANTE ZINC WICKER METAL
    WOOD WOODEN GLASS ENAMEL FELT FELTCRAFT KNITTED CERAMIC PORCELAIN ACRYLIC LACE CLASSIC GLAZE
    FILIGREE BAROQUE
""".split())

#: Design ranges, brands, themes and fragments of slogans that end descriptions.
RANGES = frozenset("""
    SPACEBOY WOODLAND LONDON SUKI TOADSTOOL PARADE CIRCUS FOLKART PANTRY REGENCY CHRISTMAS EASTER
    GIRL GIRLS DOLLY BABUSHKA CHARLOTTE BAKELIKE CAMPAGNE SKULL SKULLS PARIS JACK UNION FLAG WINKIE
    WILLIE LOLA CHARLIE GARDEN HOME LOVE SWEET MAGIC COTTAGE FONT FANCY CALM YOU LEAVE FAIR DAY DAYS
    PARK CHOICE KINGS DINER PSYCHEDELIC ENGLAND ENGLISH HAND CADET VILLAGE
""".split())

#: Motifs: nouns that mostly describe the design of another product.
MOTIFS = frozenset("""
    HEART FLOWER STAR ROSE APPLE BIRD OWL BUTTERFLY LEAF DAISY BUNNY RABBIT CHICK DUCK HEN CAT DOG
    TREE STRAWBERRY CHERRY PEAR FRUIT CAKE CUPCAKE COWBOY SNOWFLAKE REINDEER SANTA ANGEL FAIRY
""".split())

#: A candidate ending at least this many catalogue descriptions is a known product noun.
MIN_HEADS = 5

#: Words that never name a product.
FILLERS = frozenset("SET OF FOR NO PC PCS PIECE PACK W WITH AND IN ON THE TO IT".split())

#: Every word skipped when looking for the head noun.
MODIFIERS = COLOURS | SIZES | STYLES | RANGES | FILLERS

#: Abbreviations in truncated descriptions, and spelling variants.
ABBREVIATIONS = {"NECKL": "NECKLACE", "NECKLAC": "NECKLACE", "HLDR": "HOLDER", "DEC": "DECORATION",
                 "DOILEY": "DOILY"}


def singular(word: str) -> str:
    """Fold a plural onto the singular (``BOXES`` → ``BOX``, ``CANDLES`` → ``CANDLE``,
    ``DOILIES`` → ``DOILY``)."""
    if len(word) > 4 and word.endswith("IES"):
        return word[:-3] + "Y"
    if len(word) > 3 and word.endswith("ES") and word[:-2].endswith(("CH", "SH", "X", "SS")):
        return word[:-2]
    if len(word) > 3 and word.endswith("S") and not word.endswith(("SS", "US", "IS", "AS")):
        return word[:-1]
    return word


#: Nouns that end like a gerund (``-ING`` after a syllable) yet name a product.
ING_NOUNS = frozenset("""
    BUNTING PUDDING STOCKING WEDDING BUILDING CEILING STUFFING DUMPLING EVENING FARTHING NETTING
    SHELVING CLOTHING PAINTING DRAWING EARRING KEYRING DRAWSTRING SETTING
""".split())
_VOWEL = re.compile(r"[AEIOUY]")


def _participle(word: str) -> bool:
    """A past participle (``ETCHED``, ``JEWELLED``) or a present participle or gerund (``MAKING``,
    ``HANGING``, ``WRITING``): it says how a product looks or what it is for (``JAM MAKING
    SET``, ``BAKING SET``), never what it is.

    As in Porter's stemmer, the ending counts only after a syllable: ``RING``, ``STRING``,
    ``SPRING`` (no vowel before ``ING``) are nouns, and so are ``BED``, ``SHED`` and ``SEED``. The
    nouns that look like gerunds (``BUNTING``, ``EARRING``) are listed in :data:`ING_NOUNS`.
    """
    if word.endswith("ED"):
        return len(word) > 4 and not word.endswith("EED")
    if word.endswith("ING"):
        return word not in ING_NOUNS and bool(_VOWEL.search(word[:-3]))
    return False


def candidates(description: str) -> list[str]:
    """The description's words that may name the product, in order, singular and unabbreviated."""
    out = []
    for word in _WORD.findall(description.upper()):
        folded = singular(word)
        if word in MODIFIERS or folded in MODIFIERS or len(folded) < 3 or _participle(folded):
            continue
        out.append(ABBREVIATIONS.get(folded, folded))
    return out


def head_counts(descriptions: Iterable[str]) -> Counter[str]:
    """How many descriptions each candidate ends (one description per catalogue item)."""
    return Counter(found[-1] for found in map(candidates, descriptions) if found)


def product_type(description: str, heads: Mapping[str, int] | None = None) -> str | None:
    """The product type of a description (see the module docstring).

    Args:
        description: The item's description.
        heads: :func:`head_counts` of the whole catalogue; without it, the rightmost candidate.

    Returns:
        ``WHITE HANGING HEART T-LIGHT HOLDER`` → ``HOLDER``; a description made only of
        modifiers keeps its last word; one without words gives ``None``.
    """
    words = _WORD.findall(description.upper())
    if not words:
        return None
    found = candidates(description)
    if not found:
        return singular(str(words[-1]))
    known = [w for w in found
             if w not in MOTIFS and heads is not None and heads.get(w, 0) >= MIN_HEADS]
    return (known or found)[-1]


# -- categories in words -------------------------------------------------------------------------

#: Product types that read as mass nouns (no plural).
UNCOUNTABLE = frozenset({"CUTLERY", "JEWELLERY", "STATIONERY", "BUNTING", "INCENSE", "TEA", "ART",
                         "CRAFT"})


def plain_name(category: str) -> str:
    """A category in plain words: ``"HOLDER"`` → ``"Holders"``, ``"Comedy"`` → ``"Comedy"``.

    Names written in capitals are product types (Online Retail's head nouns) and read as plurals;
    other names (MovieLens genres, Amazon categories) are shown as given.
    """
    if category != category.upper() or not any(ch.isalpha() for ch in category):
        return category
    word = category.lower()
    if category not in UNCOUNTABLE:
        if word.endswith(("s", "x", "ch", "sh")):
            plural = word + "es"
        elif len(word) > 1 and word.endswith("y") and word[-2] not in "aeiou":
            plural = word[:-1] + "ies"
        else:
            plural = word + "s"
        # Only a plural that folds back onto the same product type: labels must stay in the
        # product-type vocabulary.
        if singular(plural.upper()) == category:
            word = plural
    return word[:1].upper() + word[1:]


def join_names(words: Sequence[str]) -> str:
    """``["A"]`` → ``"A"``; ``["A", "B"]`` → ``"A & B"``; ``["A", "B", "C"]`` → ``"A, B & C"``."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} & {words[-1]}"
