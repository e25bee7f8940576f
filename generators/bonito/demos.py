"""Demonstrations for the "fields" prompted mode: two passages of our own, two filled forms per task type.

The model sees each passage and the fields filled for it; code, not the model,
puts a passage into the final instruction (generators/bonito/fields.py).
"""

from __future__ import annotations

DEMO_PASSAGES = (
    "Tide pools form where rocky shores hold seawater after the tide goes out. The animals that live in "
    "them, such as sea anemones and small crabs, must survive hours of warm water and strong sunlight "
    "until the sea comes back. Anemones close up to keep moisture in, while crabs hide under stones.",
    "The city library lends e-books through its website. A loan lasts 21 days and can be renewed once, "
    "unless another reader has reserved the title. Card holders may borrow at most ten e-books at a time, "
    "and returned titles become available to the next reader within an hour.",
)

DEMOS: dict[str, list[dict]] = {
    "extractive question answering": [
        {"question": "What do anemones do to keep moisture in?", "answer": "close up"},
        {"question": "How long does an e-book loan last?", "answer": "21 days"},
    ],
    "multiple-choice question answering": [
        {
            "question": "Where do crabs in tide pools hide?",
            "options": ["In the sand", "Under stones", "Inside anemones", "In open water"],
            "answer": "B",
        },
        {
            "question": "How many e-books can a card holder borrow at a time?",
            "options": ["Five", "Twenty-one", "Ten", "No limit"],
            "answer": "C",
        },
    ],
    "question generation": [
        {"answer": "warm water and strong sunlight", "question": "What must tide pool animals survive until the sea comes back?"},
        {"answer": "within an hour", "question": "How soon does a returned e-book become available to the next reader?"},
    ],
    "question answering without choices": [
        {"question": "When do tide pools form?", "answer": "They form when the tide goes out and rocky shores hold seawater."},
        {"question": "When can an e-book loan not be renewed?", "answer": "When another reader has reserved the title."},
    ],
    "yes-no question answering": [
        {"question": "Do crabs in tide pools hide under stones?", "answer": "Yes"},
        {"question": "Can an e-book loan be renewed twice?", "answer": "No"},
    ],
    "coreference resolution": [
        {"question": 'In the second sentence, what does "them" refer to?', "answer": "the tide pools"},
        {"question": 'In the passage, who does "the next reader" wait for?', "answer": "a returned e-book title"},
    ],
    "paraphrase generation": [
        {
            "sentence": "Tide pools form where rocky shores hold seawater after the tide goes out.",
            "paraphrase": "When the tide goes out, rocky shores that keep seawater become tide pools.",
        },
        {
            "sentence": "The city library lends e-books through its website.",
            "paraphrase": "E-books can be borrowed from the city library on its website.",
        },
    ],
    "paraphrase identification": [
        {
            "sentence1": "Anemones close up to keep moisture in.",
            "sentence2": "To stop drying out, anemones close themselves.",
            "answer": "Yes",
        },
        {
            "sentence1": "A loan lasts 21 days and can be renewed once.",
            "sentence2": "A loan can be renewed as often as the reader likes.",
            "answer": "No",
        },
    ],
    "sentence completion": [
        {"beginning": "Anemones close up to keep moisture in,", "ending": "while crabs hide under stones."},
        {"beginning": "Card holders may borrow", "ending": "at most ten e-books at a time."},
    ],
    "sentiment": [{"answer": "neutral"}, {"answer": "neutral"}],
    "summarization": [
        {"summary": "Tide pool animals must endure heat and sunlight at low tide; anemones close up and crabs hide."},
        {"summary": "The library lends up to ten e-books online for 21 days, renewable once if nobody reserved them."},
    ],
    "text generation": [
        {
            "request": "Write a short note for children visiting a tide pool, based on the passage.",
            "text": "Look closely but gently: the crabs hide under stones and the anemones close up to stay wet until the sea returns.",
        },
        {
            "request": "Write a one-sentence reminder the library could send when a loan is about to end.",
            "text": "Your e-book loan ends soon; you can renew it once unless another reader has reserved it.",
        },
    ],
    "topic classification": [
        {"topics": ["marine biology", "cooking", "finance"], "answer": "marine biology"},
        {"topics": ["sports", "library services", "astronomy", "music"], "answer": "library services"},
    ],
    "word sense disambiguation": [
        {"word": "close", "answer": "to shut or fold up, not near"},
        {"word": "title", "answer": "a book or publication, not a name of rank"},
    ],
    "textual entailment": [
        {"statement": "Tide pool animals face strong sunlight at low tide.", "answer": "Yes"},
        {"statement": "E-book loans can be renewed any number of times.", "answer": "No"},
    ],
    "natural language inference": [
        {"hypothesis": "Crabs in tide pools hide under stones.", "answer": "entailment"},
        {"hypothesis": "The library also lends printed books by post.", "answer": "neutral"},
    ],
}
