"""Train a small CNN on real handwritten digits, and look at the filters it learned.

    python demos/train_digits.py                  # Tensor engine, a second or two, >= 97% test accuracy
    python demos/train_digits.py --engine scalar  # the same model on the scalar engine, on a subset

The model: conv (1 -> 16 filters, 3x3, padding 1), relu, 2x2 max-pool, linear
(256 -> 10), cross-entropy, Adam. Nobody designs the sixteen 3x3 filters:
every step, backward() gives dL/dW for all 144 filter values at once, summed
over every position and every image of the batch, and Adam moves each one
downhill.

`--engine scalar` trains the very same model with every multiply a Value,
step for step beside a copy on the Tensor engine, and shows that both end
with the same weights: the fast engine computes exactly what the scalar
engine spells out.
"""
import argparse
import copy
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))  # run from a clone
import plots  # noqa: E402  (demos/plots.py, next to this file)
import tinygrad_conv as tc  # noqa: E402
from tinygrad_conv import datasets, functional as F, nn, optim  # noqa: E402
from tinygrad_conv.nn import parameter_data  # noqa: E402


def make_model(seed):
    # the linear layer's numbers get names of their own (V, c), so on the scalar engine no two Values
    # of the model share a name with the conv's (W, b)
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, seed=seed), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(16 * 4 * 4, 10, seed=seed + 1, name="V", bias_name="c"))


def as_input(images, engine):
    """A batch (N, 8, 8) as the model's input (N, 1, 8, 8): a Tensor, or a grid of Values."""
    x = images[:, None]
    return tc.Tensor(x) if engine == "tensor" else tc.values(x, name="x")


def logits_of(model, images, engine):
    out = model(as_input(images, engine))
    return out.data if engine == "tensor" else tc.data(out)


def accuracy(model, images, labels, engine):
    return float((logits_of(model, images, engine).argmax(axis=1) == labels).mean())


def largest_difference(model_a, model_b):
    """The largest difference between two models' parameters, whatever engine each is on."""
    return max(float(np.abs(parameter_data(a) - parameter_data(b)).max())
               for a, b in zip(model_a.parameters(), model_b.parameters()))


def train(model, train_set, test_set, engine, epochs, batch, lr, seed, log=print):
    """Adam on mini-batches; returns the history (loss per step, test accuracy per epoch, seconds per epoch)."""
    (x_train, y_train), (x_test, y_test) = train_set, test_set
    optimizer = optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    history = {"loss": [], "test_accuracy": [], "seconds": []}
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = rng.permutation(len(x_train))
        for i in range(0, len(order), batch):
            chosen = order[i:i + batch]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(as_input(x_train[chosen], engine)), y_train[chosen])
            loss.backward()  # dL/dW for every filter value, summed over positions and images
            optimizer.step()
            history["loss"].append(float(np.asarray(loss.data)))
        history["seconds"].append(time.perf_counter() - start)
        history["test_accuracy"].append(accuracy(model, x_test, y_test, engine))
        steps = -(-len(order) // batch)
        log(f"epoch {epoch:2d}/{epochs}  loss {np.mean(history['loss'][-steps:]):.4f}  "
            f"test accuracy {history['test_accuracy'][-1]:.2%}  ({history['seconds'][-1]:.2f} s)")
    return history


def save_pictures(model, history, image, out, scale=1.0):
    """The learned filters, the loss curve, and one digit's feature maps after conv + relu."""
    os.makedirs(out, exist_ok=True)
    filters = parameter_data(model[0].weight)[:, 0]
    paths = [os.path.join(out, name) for name in
             ("digits_filters.svg", "digits_loss.svg", "digits_feature_maps.svg")]
    plots.strip(filters, paths[0], titles=[f"filter {k + 1}" for k in range(len(filters))],
                title="The 3x3 filters learned from the digits (nobody designed them)", scale=scale,
                columns=8)  # two rows of eight read at 1024 px; one row of sixteen was 1706 px wide
    plots.line_chart([("training loss", list(range(1, len(history["loss"]) + 1)), history["loss"])], paths[1],
                     title="Cross-entropy per step", xlabel="step", ylabel="loss", logy=True, legend="top right",
                     scale=scale)
    maps = model[1](model[0](tc.Tensor(image[None, None]))).data[0][:8]  # eight, so the strip stays readable
    plots.strip([image] + list(maps), paths[2], vmax=[1.0] + [float(np.abs(maps).max()) or 1.0] * len(maps),
                titles=["digit"] + [f"filter {k + 1}" for k in range(len(maps))], numbers=False,
                title="One digit and what the first eight learned filters see in it (conv + relu)", scale=scale,
                columns=3)  # the digit and eight maps as a 3x3 grid
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("tensor", "scalar"), default="tensor")
    parser.add_argument("--epochs", type=int, help="passes over the training set (default 20; scalar 1)")
    parser.add_argument("--subset", type=int, help="training images used (default all 1438; scalar 64)")
    parser.add_argument("--batch", type=int, help="images per step (default 64; scalar 16)")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out", help="folder for the pictures (default: out/)")
    parser.add_argument("--scale", type=plots.scale_type, default=1.0,
                        help="the pictures' text and boxes x SCALE (1.5 for a projector)")
    args = parser.parse_args(argv)
    scalar = args.engine == "scalar"
    def default(given, for_scalar, for_tensor):
        return given if given is not None else (for_scalar if scalar else for_tensor)
    epochs, batch = default(args.epochs, 1, 20), default(args.batch, 16, 64)
    for what, n in (("--epochs", epochs), ("--batch", batch), ("--subset", default(args.subset, 1, 1))):
        if n < 1:
            parser.error(f"{what} must be at least 1, got {n}")

    images, labels = datasets.load_digits()
    (x_train, y_train), test_set = datasets.split(images, labels, test_fraction=0.2, seed=args.seed)
    subset = default(args.subset, 64, len(x_train))
    x_train, y_train = x_train[:subset], y_train[:subset]
    if scalar:  # every test image is a graph of ~15,000 Values
        test_set = (test_set[0][:64], test_set[1][:64])
    print(f"UCI digits: {len(x_train)} training and {len(test_set[0])} test images of 8x8, engine: {args.engine}")

    model = make_model(args.seed)
    print(f"model: {model!r}")
    difference = None
    if scalar:  # the same model, the same steps, on both engines
        twin = copy.deepcopy(model)
        print("Tensor engine:")
        train(twin, (x_train, y_train), test_set, "tensor", epochs, batch, args.lr, args.seed)
        print("scalar engine, every multiply a Value:")
        model.to("scalar")
    history = train(model, (x_train, y_train), test_set, args.engine, epochs, batch, args.lr, args.seed)
    if scalar:
        difference = largest_difference(model, twin)
        print(f"largest difference between the two engines' trained weights: {difference:.1e}")
    model.to("tensor")
    paths = save_pictures(model, history, test_set[0][0], args.out, args.scale)
    print("wrote " + ", ".join(paths))
    print(f"Final test accuracy {history['test_accuracy'][-1]:.2%}, {np.mean(history['seconds']):.2f} s per epoch. "
          "Every step used one backward() for all filter values; no filter value was ever nudged.")
    return {"history": history, "test_accuracy": history["test_accuracy"][-1], "pictures": paths,
            "engine_difference": difference, "model": model}


if __name__ == "__main__":
    main()
