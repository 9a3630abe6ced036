"""Follow one first-layer filter value's gradient through a whole trained network, from the loss down.

    python demos/through_the_network.py            # train a two-conv CNN on digits (seconds), then follow W[1,1,2,2]
    python demos/through_the_network.py --follow "W[3,1,1,1]" --sample 5    # another value, another digit

The model: conv (1 -> 4 filters, 3x3, padding 1), relu, conv (4 -> 4, 3x3, padding 1),
relu, 2x2 max-pool, flatten, linear (64 -> 10), cross-entropy. It trains on the Tensor
engine for a few epochs; then its state_dict is loaded into the same model on the scalar
engine, and one digit goes through it with every multiply a Value.

On the scalar engine every layer names its own Values: the first conv W, b, o, the relus
r and r2, the second conv W2, b2, o2, the pool p, the linear layer V, c, z. So the chain
rule can be written out with names, one hop at a time, from the loss down to a filter
value of the first layer:

    dL/dz[1,k]      from the softmax
    dL/dp[...]      = V..*dL/dz[1,1] + ... (the dense layer sends it back)
    dL/dr2[...]     the max-pool passes it to the winner of its window
    dL/do2[...]     relu'(o2) * dL/dr2
    dL/dr[...]      = W2..*dL/do2[...] + ... (the second conv sends it back)
    dL/do[...]      relu'(o) * dL/dr
    dL/dW[k,1,a,b]  = x..*dL/do[...] + ... (one term per output the filter value helped make)

Each line's numbers are the engine's own, and its last number is backward()'s gradient.
The demo then nudges the filter value up and down and reruns the forward pass: the slope
it measures is the same number.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))  # run from a clone
import tinygrad_conv as tc  # noqa: E402
import viz  # noqa: E402
from tinygrad_conv import datasets, functional as F, nn, optim  # noqa: E402
from tinygrad_conv.grid import parse_name  # noqa: E402


def make_model(engine="tensor", seed=0):
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, seed=seed, engine=engine), nn.ReLU(),
                         nn.Conv2d(4, 4, 3, padding=1, seed=seed + 1, engine=engine), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 10, seed=seed + 2, engine=engine))


def train(model, images, labels, epochs, batch=64, lr=0.01, seed=0):
    """Adam on the Tensor engine; returns the accuracy on the images it was given afterwards."""
    optimizer = optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(images))
        for i in range(0, len(order), batch):
            chosen = order[i:i + batch]
            optimizer.zero_grad()
            F.cross_entropy(model(tc.Tensor(images[chosen][:, None])), labels[chosen]).backward()
            optimizer.step()


def accuracy(model, images, labels):
    return float((model(tc.Tensor(images[:, None])).data.argmax(axis=1) == labels).mean())


def hardest(model, images, labels):
    """The index of the image with the largest loss under the model (Tensor engine, one pass)."""
    logits = model(tc.Tensor(images[:, None])).data
    return int(np.argmax([-np.log(softmax(row)[y]) for row, y in zip(logits, labels)]))


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def scalar_loss(model, image, label):
    """One digit through the model on the scalar engine: (loss, logits), every multiply a Value."""
    x = tc.values(image[None, None], name="x")
    logits = model(x)
    return F.cross_entropy(logits, np.array([label])), logits


def find(model, name):
    """The parameter Value of the model called `name` (e.g. W[1,1,2,2])."""
    for p in model.parameters():
        for v in np.asarray(p, dtype=object).flat:
            if v.name == name:
                return v
    names = [v.name for p in model.parameters() for v in np.asarray(p, dtype=object).flat]
    raise ValueError(f"no parameter is called {name!r}; the first layer's are {', '.join(names[:4])}, ...")


def nudge(model, image, label, value, h=1e-6):
    """The central difference (L(w + h) - L(w - h)) / 2h, each L a fresh forward pass; w is restored."""
    w = value.data
    losses = []
    for step in (h, -h):
        value.data = w + step
        losses.append(scalar_loss(model, image, label)[0].data)
    value.data = w
    return (losses[0] - losses[1]) / (2 * h)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=None, help="training epochs on the Tensor engine (default 4)")
    parser.add_argument("--sample", type=int, default=None,
                        help="which test digit to follow (default: the one the trained model finds hardest, "
                             "the largest loss, so the gradients are large enough to read)")
    parser.add_argument("--follow", default="W[1,1,2,2]",
                        help="the first-layer filter value to follow (default W[1,1,2,2], filter 1's centre)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="one epoch on a quarter of the digits (for tests)")
    parser.add_argument("--out", default="out", help="folder for the picture (default: out/)")
    args = parser.parse_args(argv)
    epochs = args.epochs if args.epochs is not None else (1 if args.quick else 4)
    if epochs < 0:
        parser.error(f"--epochs must be at least 0, got {epochs}")
    parsed = parse_name(args.follow)
    if parsed is None or parsed[0] != "W" or len(parsed[1]) != 4:
        parser.error(f"--follow takes a first-layer filter value such as W[1,1,2,2], got {args.follow!r}")

    images, labels = datasets.load_digits()
    (x_train, y_train), (x_test, y_test) = datasets.split(images, labels, test_fraction=0.2, seed=args.seed)
    if args.quick:
        x_train, y_train = x_train[:len(x_train) // 4], y_train[:len(y_train) // 4]
    if args.sample is not None and not 0 <= args.sample < len(x_test):
        parser.error(f"--sample must be in 0..{len(x_test) - 1}, got {args.sample}")

    # 1. train fast, on Tensors
    model = make_model(seed=args.seed)
    train(model, x_train, y_train, epochs, seed=args.seed)
    acc = accuracy(model, x_test, y_test)
    print(f"trained {model!r}\n{epochs} epochs on {len(x_train)} digits: test accuracy {acc:.1%}")

    # 2. the very same numbers on the scalar engine (state_dict), one test digit through it
    sample = args.sample if args.sample is not None else hardest(model, x_test, y_test)
    scalar = make_model(engine="scalar", seed=args.seed)
    scalar.load_state_dict(model.state_dict())
    image, label = x_test[sample], int(y_test[sample])
    loss, logits = scalar_loss(scalar, image, label)
    loss.backward()
    value = find(scalar, args.follow)
    probabilities = softmax(tc.data(logits)[0])
    print(f"\ntest digit {sample} (a {label}) on the scalar engine: loss {loss.data:.6g}, "
          f"predicted {int(np.argmax(probabilities))} (probability of a {label}: {probabilities[label]:.3f})")
    top = np.abs(tc.grads(logits)[0] - (probabilities - np.eye(10)[label])).max()
    print(f"the loss's gradient at the logits is the textbook softmax - one_hot (largest difference {top:.1e}); "
          "step 1 below is that, written out")

    # the Tensor engine's gradient for the same digit, to show both engines agree
    model.zero_grad()
    F.cross_entropy(model(tc.Tensor(image[None, None])), np.array([label])).backward()
    k, c, a, b = parse_name(value.name)[1]
    tensor_grad = float(model[0].weight.grad[k, c, a, b])

    # 3. the chain of equations, from the loss down to the filter value
    path = viz.gradient_path(loss, value, max_terms=5)
    print(f"\nFollowing {value.name}'s gradient from the loss down. Each equation sums one term per use "
          "(local derivative * the gradient of the Value it made); the path goes on through the largest.\n")
    print(path)

    # 4. the picture of the path
    os.makedirs(args.out, exist_ok=True)
    picture = os.path.join(args.out, "through_the_network.svg")
    drawing = viz.draw_gradient_path(loss, value)
    with open(picture, "wb") as f:
        f.write(drawing.pipe(format="svg"))

    # 5. backward() beside the nudge
    slope = nudge(scalar, image, label, value)
    print(f"\n{value.name}: backward() says dL/d{value.name} = {value.grad:.10g}")
    print(f"{' ' * len(value.name)}  nudge it by +-1e-6 and rerun: (L(w+h) - L(w-h))/2h = {slope:.10g}")
    print(f"{' ' * len(value.name)}  the Tensor engine, same digit and weights:      {tensor_grad:.10g}")
    print(f"\nwrote {picture}")
    return {"value": value, "loss": loss, "sample": sample, "softmax_difference": float(top), "backward": value.grad, "nudge": slope, "tensor_grad": tensor_grad,
            "path": path, "picture": picture, "test_accuracy": acc, "model": scalar, "label": label}


if __name__ == "__main__":
    main()
