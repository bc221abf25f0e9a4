"""The teacher: a float MLP trained once per space, seed and recipe, cached in the study folder.

When the space standardizes its inputs, so does the teacher (a normalization layer fitted on
the training split): a float network on raw features of very different scales trains badly.
A teacher no better than always answering the most frequent class stops the run: distilling
from it would search for nothing."""

import numpy as np

from nas._tf import keras, set_seed
from nas.errors import StudyError
from nas.model.data import DataSplits, data_tag
from nas.model.student import StopWhenAsked
from nas.model.workdir import StudyPaths, write_atomically
from nas.spaces.schema import digest
from nas.spaces.space import Space

#: A teacher must beat the most frequent class's share of the validation split by this much,
#: and by two standard errors of that share on a small split.
ABOVE_CHANCE = 0.02


def build_teacher(n_inputs: int, n_classes: int, hidden: tuple[int, ...],
                  x_train: np.ndarray | None = None) -> "keras.Model":
    """The float MLP; with ``x_train``, its inputs standardized as that split's."""
    layers = [keras.Input((n_inputs,))]
    if x_train is not None:
        normalization = keras.layers.Normalization()
        normalization.adapt(x_train)
        layers.append(normalization)
    layers += [keras.layers.Dense(width, activation="relu") for width in hidden]
    layers.append(keras.layers.Dense(n_classes, name="logits"))
    return keras.Sequential(layers, name="teacher")


def train_teacher(space: Space, data: DataSplits, seed: int) -> "keras.Model":
    set_seed(seed)
    recipe = space.recipe
    standardize = data.x_train if space.input_condition == "standardize" else None
    model = build_teacher(space.n_inputs, space.n_classes, recipe.teacher_hidden, standardize)
    model.compile(optimizer=keras.optimizers.Adam(recipe.teacher_learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(data.x_train, data.y_train, batch_size=recipe.batch_size, verbose=0,
              epochs=recipe.epochs(recipe.teacher_epochs, len(data.y_train)),
              callbacks=[StopWhenAsked()])
    return model


def check_teacher(model: "keras.Model", data: DataSplits) -> float:
    """The teacher's validation accuracy; a ``StudyError`` when it is no better than chance."""
    predicted = np.argmax(model.predict(data.x_val, batch_size=4096, verbose=0), axis=1)
    accuracy = float(np.mean(predicted == data.y_val))
    chance = float(np.bincount(data.y_val).max() / len(data.y_val))
    margin = max(ABOVE_CHANCE, 2 * np.sqrt(chance * (1 - chance) / len(data.y_val)))
    if accuracy < chance + margin:
        raise StudyError(f"the teacher reached {100 * accuracy:.1f} % on the validation split, "
                         f"no better than always answering its most frequent class "
                         f"({100 * chance:.1f} %): check the labels and the training recipe "
                         f"(teacher.learning_rate, teacher.epochs) before searching")
    return accuracy


def teacher_tag(space: Space) -> str:
    """What the cached teacher depends on besides the seed: its data and everything of the
    recipe that ``train_teacher`` reads."""
    recipe = space.recipe
    return digest([data_tag(space), list(recipe.teacher_hidden), recipe.teacher_epochs,
                   recipe.teacher_learning_rate, recipe.batch_size, recipe.min_steps])


def load_teacher(space: Space, data: DataSplits, seed: int, paths: StudyPaths) -> "keras.Model":
    """The cached teacher for this space, seed and recipe, trained and cached if missing."""
    cache = paths.teacher(seed, teacher_tag(space))
    if cache.exists():
        return keras.models.load_model(cache, compile=False)
    model = train_teacher(space, data, seed)
    write_atomically(cache, lambda tmp: model.save(tmp))
    return model


def teacher_logits(model: "keras.Model", x: np.ndarray) -> np.ndarray:
    return model.predict(x, batch_size=4096, verbose=0)
