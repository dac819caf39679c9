"""Class-conditional GANs: labelled samples as one tensor, the latent's class, the projection pair."""

import pytest
import torch

from proxgan.errors import ProxganError
from proxgan.gradients import input_gradients
from proxgan.labels import label_fakes, latent_classes, split_labels, with_labels
from proxgan.models import DCGANDiscriminator, DCGANGenerator
from proxgan.proximal import sobolev_distance_sq


@pytest.mark.parametrize("shape", [(5, 1, 8, 8), (5, 3)])
def test_labels_travel_as_one_channel_and_come_back(shape):
    x, y = torch.randn(shape), torch.tensor([0, 9, 3, 3, 7])
    labelled = with_labels(x, y)
    assert labelled.shape == (shape[0], shape[1] + 1, *shape[2:])
    assert torch.equal(labelled[:, -1].reshape(5, -1), y.float()[:, None].expand(5, labelled[0, -1].numel()))
    images, labels = split_labels(labelled)
    assert torch.equal(images, x) and torch.equal(labels, y) and labels.dtype == torch.int64
    assert torch.equal(split_labels(with_labels(x.bfloat16(), y))[1], y)  # integers are exact in bfloat16
    assert torch.equal(label_fakes(x, torch.randn(5, 12), 0), x)  # unconditional: unchanged


def test_the_latent_class_is_uniform_argmax_of_the_last_coordinates():
    """argmax of K iid N(0, 1) coordinates is uniform on 0..K-1: each class within 4 standard errors of 1/K."""
    z = torch.randn(200_000, 20, generator=torch.Generator().manual_seed(0))
    classes = latent_classes(z, 10)
    assert torch.equal(classes, z[:, 10:].argmax(1))
    share = torch.bincount(classes, minlength=10).double() / len(z)
    assert (share - 0.1).abs().max() < 4 * (0.1 * 0.9 / len(z)) ** 0.5


def test_conditional_generator_sees_only_the_argmax_of_its_class_coordinates():
    torch.manual_seed(0)
    G = DCGANGenerator(latent_dim=16, dim=4, resolution=8, channels=1, classes=10).eval()
    z = torch.randn(6, 16)
    same_class = z.clone()
    same_class[:, 6:] = same_class[:, 6:] * 0.5 + 3 * torch.nn.functional.one_hot(latent_classes(z, 10), 10)
    assert torch.equal(latent_classes(same_class, 10), latent_classes(z, 10))
    torch.testing.assert_close(G(same_class), G(z), rtol=0, atol=0)
    other = z.clone()
    other[:, 6:] = torch.nn.functional.one_hot((latent_classes(z, 10) + 1) % 10, 10).float()
    assert not torch.allclose(G(other), G(z))
    with pytest.raises(ProxganError, match="classes < latent_dim"):
        DCGANGenerator(latent_dim=10, dim=4, resolution=8, channels=1, classes=10)


def test_projection_discriminator_is_the_unconditional_one_plus_the_class_embedding():
    """D(x, y) = ψ(φ(x)) + ⟨e_y, φ(x)⟩: zero embedding gives the unconditional D with the same body and head, and
    D(x, y) - D(x, y') = ⟨e_y - e_y', φ(x)⟩."""
    torch.manual_seed(1)
    conditional = DCGANDiscriminator(dim=4, resolution=8, channels=1, classes=3)
    plain = DCGANDiscriminator(dim=4, resolution=8, channels=1)
    plain.load_state_dict({k: v for k, v in conditional.state_dict().items() if not k.startswith("embed")})
    x, y = torch.randn(7, 1, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2, 2])
    torch.testing.assert_close(conditional(with_labels(x, y)), plain(x))
    torch.nn.init.normal_(conditional.embed.weight)
    features = conditional.body(x)
    scores = conditional(with_labels(x, y))
    torch.testing.assert_close(scores, plain(x) + (conditional.embed.weight[y] * features).sum(1))
    other = (y + 1) % 3
    torch.testing.assert_close(scores - conditional(with_labels(x, other)),
                               ((conditional.embed.weight[y] - conditional.embed.weight[other]) * features).sum(1))


def test_input_gradients_are_the_images_at_a_fixed_class():
    """∇ of D(x, y) over the labelled tensor: zero on the label channel, ∂D(·, y)/∂x on the image (finite
    differences), so R1 and the Sobolev distance are those of the image at its class."""
    torch.manual_seed(2)
    D = DCGANDiscriminator(dim=4, resolution=8, channels=1, classes=3).double()
    torch.nn.init.normal_(D.embed.weight)
    x, y = torch.randn(4, 1, 8, 8, dtype=torch.float64), torch.tensor([2, 0, 1, 2])
    grads = input_gradients(D, with_labels(x, y), create_graph=False)
    assert grads.shape == (4, 2, 8, 8) and torch.equal(grads[:, 1], torch.zeros(4, 8, 8, dtype=torch.float64))
    h, i = 1e-6, (0, 0, 3, 5)
    bump = torch.zeros_like(x)
    bump[i] = h
    finite = (D(with_labels(x + bump, y)) - D(with_labels(x - bump, y)))[0] / (2 * h)
    torch.testing.assert_close(grads[i], finite, rtol=1e-6, atol=1e-8)
    D2 = DCGANDiscriminator(dim=4, resolution=8, channels=1, classes=3).double()
    on_images = sum(((input_gradients(D, with_labels(x[k : k + 1], y[k : k + 1]), create_graph=False)
                      - input_gradients(D2, with_labels(x[k : k + 1], y[k : k + 1]), create_graph=False)) ** 2).sum()
                    for k in range(4)) / 4  # fmt: skip
    torch.testing.assert_close(sobolev_distance_sq(D, D2, with_labels(x, y)), on_images)
