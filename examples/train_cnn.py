"""Train a small convolutional network on the handwritten digits that ship with minigrad.

Run it with `python examples/train_cnn.py` (or `python examples/train_cnn.py 3` for 3
epochs). It is the same loop you would write in PyTorch: replace `minigrad` by `torch`.
"""
import sys

import numpy as np

import minigrad as mg
from minigrad import nn

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
mg.manual_seed(0)  # same initial weights and batch order on every run

# 1797 images of 8x8 pixels, shape (N, 1, 8, 8); keep 360 of them aside for testing
# (the same split as `minigrad train`).
images, labels = mg.data.load_digits()
order = np.random.default_rng(0).permutation(len(labels))
test, train = order[:360], order[360:]
loader = mg.data.DataLoader(mg.data.TensorDataset(images[train], labels[train]),
                            batch_size=32, shuffle=True)

# Two conv-relu-pool blocks (8x8 -> 4x4 -> 2x2), then two linear layers.
model = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, 10))
loss_fn = nn.CrossEntropyLoss()
optimizer = mg.optim.Adam(model.parameters(), lr=1e-2)
# Lower the learning rate smoothly from 1e-2 towards 0 over the epochs.
scheduler = mg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)

for epoch in range(epochs):
    model.train()
    for x, y in loader:
        loss = loss_fn(model(x), y)  # forward pass: builds the graph
        optimizer.zero_grad()        # forget the previous batch's gradients
        loss.backward()              # backward pass: fills p.grad for every parameter
        optimizer.step()             # update the parameters
    scheduler.step()                 # once per epoch
    print(f"epoch {epoch + 1}: last batch loss {loss.item():.4f}")

model.eval()
with mg.no_grad():  # no graph needed to evaluate
    predictions = model(images[test]).argmax(dim=1)
accuracy = (predictions == labels[test]).float().mean().item()
print(f"test accuracy: {accuracy:.4f}")
