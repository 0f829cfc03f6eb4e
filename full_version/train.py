"""Train the full_version tier (encoder + global features + decoder) on a folder of photos.

    python full_version/train.py --epochs 1000                 # datasets/landscapes/train and extra; Ctrl-C, then --resume
    python full_version/train.py --embedding imagenet          # InceptionResNetV2 features (downloads ~220 MB once)
    python full_version/train.py --embedding learned           # fully offline
    python full_version/train.py --init-from beta              # start from a trained beta, train the global part

`--embedding auto` (the default) uses the ImageNet features when their weights
are already in Keras's cache, and the learned global features otherwise.
"""

from functools import partial

import keras

from full_version.model import build_model, start_from_beta
from shared import cli, commands, data, training
from shared.data import InputError
from shared.global_features import EmbeddingCache, ImagenetEmbedder, cache_path, choose_embedding
from shared.inference import load_keras_file, load_model
from shared.layers import embedding_of


def main(argv=None, embedder=None):
    """`embedder` replaces the ImageNet classifier (tests use one without downloaded weights)."""
    parser = commands.build_train_parser("full_version", "Train the full_version tier on a folder of photos.")
    parser.add_argument(
        "--embedding", choices=("auto", "learned", "imagenet"), default="auto",
        help="where the global features come from: a frozen ImageNet classifier or a branch trained "
             "with the rest; auto = imagenet if its weights are already downloaded (default: %(default)s)",
    )
    parser.add_argument(
        "--init-from", metavar="BETA",
        help="start from a trained beta model (`beta`: your models/beta.keras, else the shipped one; or a "
             ".keras path) and train only what full_version adds, the global features and the fusion: beta's "
             "encoder and decoder stay as they are, so training begins at beta's colours (default: train "
             "everything from random weights)",
    )
    args = parser.parse_args(argv)
    if args.init_from and args.resume:
        raise InputError("--init-from starts a new training; --resume continues one: give only one of them")
    embedding = resumed_embedding(args) or choose_embedding(args.embedding)
    print(f"global features: {embedding}")

    make_dataset, build = None, partial(build_model, embedding=embedding)
    if embedding == "imagenet":
        embedder = embedder or ImagenetEmbedder(batch_size=args.batch_size)
        make_dataset = partial(imagenet_dataset, cache=EmbeddingCache(cache_path(args.model_out), embedder))
        build = partial(build_after_embedding, embedder=embedder)
    if args.init_from:
        build = partial(build_from_beta, build=build, beta_model=load_model(args.init_from))
    commands.train_on_folder(args, build, make_dataset=make_dataset)
    return 0


def build_after_embedding(image_size, learning_rate, *, embedder, **loss_options):
    """Called once the datasets exist, so every vector is cached: free the classifier before training."""
    embedder.release()
    return build_model(image_size, learning_rate, embedding="imagenet", **loss_options)


def build_from_beta(image_size, learning_rate, *, build, beta_model, **loss_options):
    model = build(image_size, learning_rate, **loss_options)
    start_from_beta(model, beta_model, freeze=True)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=model.loss)  # only the unfrozen weights train
    return model


def imagenet_dataset(paths, image_size, batch_size, augment=False, shuffle=False, *, cache):
    """Batches of ({"l_norm", "embedding"}, ab_norm); each image's vector is computed once, then read from disk."""
    vectors = cache.vectors(paths, image_size, batch_size)
    return data.make_dataset(paths, image_size, batch_size, augment=augment, shuffle=shuffle, embeddings=vectors)


def resumed_embedding(args):
    """With --resume, the embedding the interrupted training used (it must not change midway)."""
    state = training.side_files(args.model_out)["state"]
    if not args.resume or not state.exists():
        return None  # fit() explains a missing state
    embedding = embedding_of(load_keras_file(state))
    if args.embedding not in ("auto", embedding):
        raise InputError(f"the training to resume used --embedding {embedding}, not {args.embedding}")
    return embedding


if __name__ == "__main__":
    cli.run(main)
