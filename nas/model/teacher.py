"""The teacher: a float MLP trained once per space, seed and recipe, cached in the study folder."""

import numpy as np

from nas._tf import keras, set_seed
from nas.model.data import DataSplits
from nas.model.workdir import StudyPaths, write_atomically
from nas.spaces.sources import cache_tag
from nas.spaces.space import Space


def build_teacher(n_inputs: int, n_classes: int, hidden: tuple[int, ...]) -> "keras.Model":
    layers = [keras.Input((n_inputs,))]
    layers += [keras.layers.Dense(width, activation="relu") for width in hidden]
    layers.append(keras.layers.Dense(n_classes, name="logits"))
    return keras.Sequential(layers, name="teacher")


def train_teacher(space: Space, data: DataSplits, seed: int) -> "keras.Model":
    set_seed(seed)
    recipe = space.recipe
    model = build_teacher(space.n_inputs, space.n_classes, recipe.teacher_hidden)
    model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(data.x_train, data.y_train, epochs=recipe.teacher_epochs,
              batch_size=recipe.batch_size, verbose=0)
    return model


def load_teacher(space: Space, data: DataSplits, seed: int, paths: StudyPaths) -> "keras.Model":
    """The cached teacher for this space, seed and recipe, trained and cached if missing."""
    cache = paths.teacher(seed, cache_tag(space.data), space.recipe.teacher_epochs)
    if cache.exists():
        return keras.models.load_model(cache, compile=False)
    model = train_teacher(space, data, seed)
    write_atomically(cache, lambda tmp: model.save(tmp))
    return model


def teacher_logits(model: "keras.Model", x: np.ndarray) -> np.ndarray:
    return model.predict(x, batch_size=4096, verbose=0)
