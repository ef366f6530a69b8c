import torch

from igebm.sampling import ReplayBuffer


def noise(n, g):
    return torch.rand((n, 1, 4, 4), generator=g)


def labels(n, g):
    return torch.randint(0, 10, (n,), generator=g)


def marked_buffer(**kw):
    buf = ReplayBuffer(1000, (1, 4, 4), noise, cond_sampler=labels, generator=torch.Generator().manual_seed(0), **kw)
    buf.x.fill_(2.0)  # a value noise never produces
    return buf


def test_about_five_percent_of_chains_restart_from_noise():
    buf = marked_buffer(reinit_prob=0.05)
    g = torch.Generator().manual_seed(1)
    x, y, slots, fresh = buf.sample(20000, g)
    share = fresh.float().mean().item()
    assert 0.045 < share < 0.055
    assert torch.all(x[fresh] <= 1.0)  # fresh chains really are noise
    assert torch.all(x[~fresh] == 2.0)  # the rest are replayed


def test_samples_go_back_to_their_slots_with_labels():
    buf = marked_buffer(reinit_prob=0.0)
    g = torch.Generator().manual_seed(2)
    x, y, slots, _ = buf.sample(16, g)
    new = torch.full_like(x, 0.25)
    new_y = torch.full_like(y, 7)
    buf.update(slots, new, new_y)
    assert torch.all(buf.x[slots] == 0.25) and torch.all(buf.c[slots] == 7)
    untouched = torch.ones(1000, dtype=torch.bool)
    untouched[slots] = False
    assert torch.all(buf.x[untouched] == 2.0)


def test_uint8_storage_dequantises_on_read():
    buf = ReplayBuffer(100, (1, 4, 4), noise, store_uint8=True, reinit_prob=0.0)
    assert buf.x.dtype == torch.uint8
    x, _, slots, _ = buf.sample(50, torch.Generator().manual_seed(0))
    base = buf.x[slots].float() / 256
    assert torch.all(x >= base) and torch.all(x < base + 1 / 256)


def test_state_dict_roundtrip():
    a = marked_buffer()
    a.x[3] = 0.5
    b = ReplayBuffer(1000, (1, 4, 4), noise, cond_sampler=labels)
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.x, b.x) and torch.equal(a.c, b.c)


def test_attribute_conditions_are_stored_and_restarted():
    """Float attribute vectors ride along with their chains like labels do."""
    table = torch.tensor([[0.1, 0.5, 0.5], [0.9, 0.2, 0.8]])
    buf = ReplayBuffer(64, (1, 4, 4), noise, cond_sampler=lambda n, g: table[torch.randint(0, 2, (n,), generator=g)],
                       reinit_prob=1.0)
    assert buf.c.shape == (64, 3) and buf.c.dtype == torch.float32
    x, c, slots, fresh = buf.sample(32, torch.Generator().manual_seed(0))
    assert fresh.all() and all(any(torch.equal(row, t) for t in table) for row in c)
    buf.update(slots, x, torch.full((32, 3), 0.3))
    assert torch.allclose(buf.c[slots], torch.tensor(0.3))
