/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest driver's side of virtio-pci (modern interface) and of split
 * virtqueues.
 *
 * PCI configuration goes through ports 0xcf8/0xcfc and the virtio-pci
 * capabilities through BAR accesses, all over the qtest socket.  The
 * rings live in guest RAM, which vqbench maps: descriptors, the avail
 * ring and the used ring are plain memory accesses, ordered as Linux's
 * virtio_ring.c orders them on x86.  Every request is one indirect
 * descriptor whose table lives next to the request's buffers, as Linux
 * does for every multi-buffer request when the device offers
 * VIRTIO_RING_F_INDIRECT_DESC.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vqbench.h"

GuestMem gm;

void *gm_alloc(uint64_t size, uint64_t align, uint64_t *gpa)
{
    uint64_t at = ALIGN_UP(gm.next, align);

    if (at + size > gm.size) {
        die("guest memory exhausted (%llu bytes wanted)",
            (unsigned long long)size);
    }
    gm.next = at + size;
    memset(gm.base + at, 0, size);
    *gpa = at;
    return gm.base + at;
}

/* ------------------------------------------------------------ PCI */

#define PCI_MMIO_BASE 0xe0000000ull

static void pci_select(VDev *d, unsigned off)
{
    qt_cmd(d->qt, "outl 0xcf8 0x%x", d->cfgaddr | (off & 0xfc));
}

static uint32_t pci_read32(VDev *d, unsigned off)
{
    pci_select(d, off);
    return qt_cmd(d->qt, "inl 0xcfc");
}

static uint8_t pci_read8(VDev *d, unsigned off)
{
    return pci_read32(d, off) >> ((off & 3) * 8);
}

static uint16_t pci_read16(VDev *d, unsigned off)
{
    return pci_read32(d, off) >> ((off & 2) * 8);
}

static void pci_write32(VDev *d, unsigned off, uint32_t val)
{
    pci_select(d, off);
    qt_cmd(d->qt, "outl 0xcfc 0x%x", val);
}

static void pci_write16(VDev *d, unsigned off, uint16_t val)
{
    pci_select(d, off);
    qt_cmd(d->qt, "outw 0x%x 0x%x", 0xcfc + (off & 2), val);
}

static bool pci_find(VDev *d)
{
    for (unsigned dev = 0; dev < 32; dev++) {
        d->cfgaddr = 0x80000000u | (dev << 11);
        if ((pci_read32(d, 0) & 0xffff) == 0x1af4) {
            d->device_id = pci_read32(d, 0) >> 16;
            return true;
        }
    }
    return false;
}

/* Size and place every memory BAR; returns their addresses */
static void pci_assign_bars(VDev *d, uint64_t bar[6])
{
    uint64_t next = PCI_MMIO_BASE;

    memset(bar, 0, 6 * sizeof(bar[0]));
    for (unsigned i = 0; i < 6; i++) {
        unsigned off = 0x10 + 4 * i;
        uint32_t orig = pci_read32(d, off), lo, hi = 0xffffffff;
        uint64_t size;
        bool is64;

        pci_write32(d, off, 0xffffffff);
        lo = pci_read32(d, off);
        if (!lo || (orig & 1)) {
            pci_write32(d, off, orig);
            continue;
        }
        is64 = ((orig >> 1) & 3) == 2;
        if (is64) {
            pci_write32(d, off + 4, 0xffffffff);
            hi = pci_read32(d, off + 4);
        }
        size = ~(((uint64_t)hi << 32) | (lo & ~0xfu)) + 1;
        next = ALIGN_UP(next, size);
        bar[i] = next;
        pci_write32(d, off, (uint32_t)next);
        if (is64) {
            pci_write32(d, off + 4, next >> 32);
            i++;
        }
        next += size;
    }
    /* memory space and bus master */
    pci_write16(d, 0x04, 0x0006);
}

/* ------------------------------------------------------- virtio-pci */

/* struct virtio_pci_common_cfg */
enum {
    CC_DFSELECT = 0, CC_DF = 4, CC_GFSELECT = 8, CC_GF = 12,
    CC_MSIX = 16, CC_NUMQ = 18, CC_STATUS = 20, CC_GEN = 21,
    CC_Q_SELECT = 22, CC_Q_SIZE = 24, CC_Q_MSIX = 26, CC_Q_ENABLE = 28,
    CC_Q_NOFF = 30, CC_Q_DESC = 32, CC_Q_AVAIL = 40, CC_Q_USED = 48,
};

static void cc_w8(VDev *d, unsigned off, uint8_t v)
{
    qt_cmd(d->qt, "writeb 0x%llx 0x%x",
           (unsigned long long)(d->common + off), v);
}

static void cc_w16(VDev *d, unsigned off, uint16_t v)
{
    qt_cmd(d->qt, "writew 0x%llx 0x%x",
           (unsigned long long)(d->common + off), v);
}

static void cc_w32(VDev *d, unsigned off, uint32_t v)
{
    qt_cmd(d->qt, "writel 0x%llx 0x%x",
           (unsigned long long)(d->common + off), v);
}

static void cc_w64(VDev *d, unsigned off, uint64_t v)
{
    cc_w32(d, off, (uint32_t)v);
    cc_w32(d, off + 4, v >> 32);
}

static uint32_t cc_r(VDev *d, unsigned off, unsigned size)
{
    static const char *const op[] = { "", "readb", "readw", "", "readl" };

    return qt_cmd(d->qt, "%s 0x%llx", op[size],
                  (unsigned long long)(d->common + off));
}

uint32_t vdev_cfg_read(VDev *d, unsigned off, unsigned size)
{
    static const char *const op[] = { "", "readb", "readw", "", "readl" };

    if (!d->devcfg) {
        die("device has no device-specific configuration");
    }
    return qt_cmd(d->qt, "%s 0x%llx", op[size],
                  (unsigned long long)(d->devcfg + off));
}

static void parse_caps(VDev *d, const uint64_t bar[6])
{
    unsigned ptr, guard = 0;
    unsigned msix_cap = 0;

    if (!(pci_read16(d, 0x06) & 0x10)) {
        die("virtio device without a capability list");
    }
    for (ptr = pci_read8(d, 0x34) & 0xfc; ptr && guard < 48; guard++) {
        uint8_t id = pci_read8(d, ptr), next = pci_read8(d, ptr + 1);

        if (id == 0x09) {
            uint8_t type = pci_read8(d, ptr + 3);
            uint8_t b = pci_read8(d, ptr + 4);
            uint64_t at = b < 6 ? bar[b] + pci_read32(d, ptr + 8) : 0;

            if (b < 6 && bar[b]) {
                switch (type) {
                case 1:
                    d->common = d->common ? d->common : at;
                    break;
                case 2:
                    if (!d->notify) {
                        d->notify = at;
                        d->notify_mult = pci_read32(d, ptr + 16);
                    }
                    break;
                case 3:
                    d->isr = d->isr ? d->isr : at;
                    break;
                case 4:
                    d->devcfg = d->devcfg ? d->devcfg : at;
                    break;
                }
            }
        } else if (id == 0x11) {
            uint32_t table = pci_read32(d, ptr + 4);

            msix_cap = ptr;
            d->msix_vectors = (pci_read16(d, ptr + 2) & 0x7ff) + 1;
            d->msix_table = bar[table & 7] + (table & ~7u);
        }
        ptr = next & 0xfc;
    }
    if (!d->common || !d->notify) {
        die("virtio device without modern common/notify capabilities");
    }
    if (!msix_cap || !d->msix_table) {
        die("virtio device without MSI-X");
    }
    /* every vector writes into guest RAM, unmasked; MSI-X on */
    for (unsigned v = 0; v < d->msix_vectors; v++) {
        uint64_t e = d->msix_table + 16 * v;

        qt_cmd(d->qt, "writel 0x%llx 0x%llx", (unsigned long long)e,
               (unsigned long long)(d->msi_gpa + 4 * v));
        qt_cmd(d->qt, "writel 0x%llx 0x0", (unsigned long long)(e + 4));
        qt_cmd(d->qt, "writel 0x%llx 0x%x", (unsigned long long)(e + 8),
               v + 1);
        qt_cmd(d->qt, "writel 0x%llx 0x0", (unsigned long long)(e + 12));
    }
    pci_write16(d, msix_cap + 2, 0x8000);
}

void vdev_init(VDev *d, QTest *qt, uint64_t want)
{
    uint64_t bar[6], offered = 0;
    uint8_t status;

    memset(d, 0, sizeof(*d));
    d->qt = qt;
    if (!pci_find(d)) {
        die("no virtio PCI device found");
    }
    gm_alloc(4096, 4096, &d->msi_gpa);
    pci_assign_bars(d, bar);
    parse_caps(d, bar);

    cc_w8(d, CC_STATUS, 0);
    while (cc_r(d, CC_STATUS, 1)) {
        /* reset completes when the status reads 0 */
    }
    cc_w8(d, CC_STATUS, 1);         /* ACKNOWLEDGE */
    cc_w8(d, CC_STATUS, 1 | 2);     /* DRIVER */
    for (unsigned sel = 0; sel < 2; sel++) {
        cc_w32(d, CC_DFSELECT, sel);
        offered |= (uint64_t)cc_r(d, CC_DF, 4) << (32 * sel);
    }
    want |= 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_EVENT_IDX |
            1ull << VIRTIO_RING_F_INDIRECT_DESC;
    d->features = offered & want;
    if (!(d->features & (1ull << VIRTIO_F_VERSION_1))) {
        die("device does not offer VIRTIO_F_VERSION_1");
    }
    if (!(d->features & (1ull << VIRTIO_RING_F_INDIRECT_DESC))) {
        die("device does not offer VIRTIO_RING_F_INDIRECT_DESC");
    }
    d->event_idx = d->features & (1ull << VIRTIO_RING_F_EVENT_IDX);
    for (unsigned sel = 0; sel < 2; sel++) {
        cc_w32(d, CC_GFSELECT, sel);
        cc_w32(d, CC_GF, (uint32_t)(d->features >> (32 * sel)));
    }
    cc_w8(d, CC_STATUS, 1 | 2 | 8); /* FEATURES_OK */
    status = cc_r(d, CC_STATUS, 1);
    if (!(status & 8)) {
        die("device refused features 0x%llx",
            (unsigned long long)d->features);
    }
    cc_w16(d, CC_MSIX, 0);
}

void vdev_setup_vqs(VDev *d, unsigned nvqs)
{
    unsigned have = cc_r(d, CC_NUMQ, 2);

    if (nvqs > have) {
        die("device has %u queues, %u wanted", have, nvqs);
    }
    d->nvqs = nvqs;
    d->vq = calloc(nvqs, sizeof(VRing));
    for (unsigned i = 0; i < nvqs; i++) {
        VRing *vq = &d->vq[i];
        uint64_t dg, ag, ug;
        uint16_t vec = i + 1 < d->msix_vectors ? i + 1 : d->msix_vectors - 1;
        unsigned noff;

        cc_w16(d, CC_Q_SELECT, i);
        vq->index = i;
        vq->num = cc_r(d, CC_Q_SIZE, 2);
        if (!vq->num) {
            die("queue %u has size 0", i);
        }
        vq->desc = gm_alloc(16 * vq->num, 4096, &dg);
        vq->avail = gm_alloc(6 + 2 * vq->num, 4096, &ag);
        vq->used_hdr = gm_alloc(6 + 8 * vq->num, 4096, &ug);
        vq->used = (volatile struct vused_elem *)(vq->used_hdr + 2);
        vq->avail_event = (volatile uint16_t *)(vq->used + vq->num);
        cc_w64(d, CC_Q_DESC, dg);
        cc_w64(d, CC_Q_AVAIL, ag);
        cc_w64(d, CC_Q_USED, ug);
        cc_w16(d, CC_Q_MSIX, vec);
        if (cc_r(d, CC_Q_MSIX, 2) != vec) {
            die("queue %u refused MSI-X vector %u", i, vec);
        }
        noff = cc_r(d, CC_Q_NOFF, 2);
        vq->notify_addr = d->notify + (uint64_t)noff * d->notify_mult;
        cc_w16(d, CC_Q_ENABLE, 1);
    }
}

void vdev_driver_ok(VDev *d)
{
    cc_w8(d, CC_STATUS, 1 | 2 | 8 | 4);
    if (cc_r(d, CC_STATUS, 1) & 0x40) {
        die("device set NEEDS_RESET");
    }
}

/* ------------------------------------------------------ split rings */

void req_reset(Req *r)
{
    r->nd = 0;
}

static void req_add(Req *r, uint32_t off, uint32_t len, uint16_t flags)
{
    if (r->nd == REQ_MAX_DESC) {
        die("too many descriptors in one request");
    }
    if (r->nd) {
        r->ind[r->nd - 1].flags |= VDESC_F_NEXT;
        r->ind[r->nd - 1].next = r->nd;
    }
    r->ind[r->nd].addr = r->buf_gpa + off;
    r->ind[r->nd].len = len;
    r->ind[r->nd].flags = flags;
    r->ind[r->nd].next = 0;
    r->nd++;
}

void req_out(Req *r, uint32_t off, uint32_t len)
{
    req_add(r, off, len, 0);
}

void req_in(Req *r, uint32_t off, uint32_t len)
{
    req_add(r, off, len, VDESC_F_WRITE);
}

void vring_push(VRing *vq, Req *r)
{
    volatile struct vdesc *d = &vq->desc[r->id];

    d->addr = r->ind_gpa;
    d->len = r->nd * sizeof(struct vdesc);
    d->flags = VDESC_F_INDIRECT;
    d->next = 0;
    vq->avail[2 + vq->avail_idx % vq->num] = r->id;
    vq->avail_idx++;
    vq->added++;
    vq->inflight++;
}

static inline bool need_event(uint16_t event, uint16_t new, uint16_t old)
{
    return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

/* Make what was pushed available; notify if the device asks for it */
void vring_publish(VDev *d, VRing *vq)
{
    uint16_t old, new;
    bool kick;

    if (!vq->added) {
        return;
    }
    wmb();                      /* descriptors before the index */
    vq->avail[1] = vq->avail_idx;
    mb();                       /* the index before reading the event */
    new = vq->avail_idx;
    old = new - vq->added;
    vq->added = 0;
    vq->publishes++;
    if (d->event_idx) {
        kick = need_event(*vq->avail_event, new, old);
    } else {
        kick = !(vq->used_hdr[0] & VRING_USED_F_NO_NOTIFY);
    }
    if (kick) {
        qt_post(d->qt, "writew 0x%llx 0x%x",
                (unsigned long long)vq->notify_addr, vq->index);
        vq->kicks++;
    }
}

bool vring_pop(VRing *vq, uint32_t *id, uint32_t *len)
{
    volatile struct vused_elem *e;

    if (vq->last_used == vq->used_hdr[1]) {
        return false;
    }
    rmb();                      /* the index before the entry */
    e = &vq->used[vq->last_used % vq->num];
    *id = e->id;
    *len = e->len;
    vq->last_used++;
    if (!vq->inflight) {
        wrong("queue %u: used entry with nothing in flight", vq->index);
    }
    vq->inflight--;
    return true;
}

/* Ask for an interrupt at the next used entry, as Linux does after it
 * has consumed the used ring (the vector writes into RAM; we poll) */
void vring_enable_cb(VDev *d, VRing *vq)
{
    if (d->event_idx) {
        vq->avail[2 + vq->num] = vq->last_used;
    }
}

/* One request, synchronously (setup and read-back) */
uint32_t vring_call(VDev *d, Req *r)
{
    uint64_t deadline = now_ns() + 10ull * 1000000000;
    uint32_t id, len;

    vring_push(r->vq, r);
    vring_publish(d, r->vq);
    while (!vring_pop(r->vq, &id, &len)) {
        cpu_relax();
        qt_drain(d->qt);
        if (now_ns() > deadline) {
            wrong("queue %u: no answer in 10 s", r->vq->index);
        }
    }
    if (id != r->id) {
        wrong("queue %u: used id %u, only %u in flight", r->vq->index, id,
              r->id);
    }
    vring_enable_cb(d, r->vq);
    return len;
}
