"""The one MLP definition: make_model.py builds and saves it, model_server.py rebuilds it from
model.json. Linear layers with ReLU between them, so state_dict keys are layers.<i>.weight/bias.

torch is passed in rather than imported here: the server imports it itself, to time the import.
"""


def build_mlp(torch, sizes):
    """An MLP with the given layer sizes ([inputs, hidden..., outputs])."""
    nn = torch.nn

    class MLP(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(n_in, n_out) for n_in, n_out in zip(sizes, sizes[1:]))

        def forward(self, x):
            for layer in self.layers[:-1]:
                x = torch.relu(layer(x))
            return self.layers[-1](x)

    return MLP(sizes)
