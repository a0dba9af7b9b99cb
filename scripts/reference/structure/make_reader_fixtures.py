#!/usr/bin/python3
"""Reference values for the PLMStructure reader tests (Tests/PLMStructureTests).

Copies small real files from the shared data folder into the test fixtures,
derives three small fixtures with tools nobody here wrote, and records what
independent readers see in those files in `reader_reference.json`:

* Biopython 1.80 (Debian `python3-biopython`, pulled in by python3-prody):
  PDB and mmCIF atoms/residues/chains per model with alternate locations reduced
  the way PLMStructure does it (highest occupancy per atom, ties -> first:
  Bio.PDB.Atom.DisorderedAtom.disordered_add), `MMCIF2Dict` for raw mmCIF columns
  (label_* identifiers), `SeqIO` "pdb-seqres" for SEQRES.
* MDTraj 1.9.7 (Debian `python3-mdtraj`): XTC (xdrfile C code) and DCD (VMD
  dcdplugin C code) frames, times, steps, boxes; PDB topologies, CRYST1, elements.
* ProDy 2.3.1 (Debian `python3-prody`): atom counts / coordinates of PDB files as a
  second opinion (ProDy keeps altloc 'A', so it is used only for files without altlocs).
* gemmi 0.7.5 via the shared data's `sequences/structures_*.fasta` (observed and
  SEQRES sequences per chain).

Derived fixtures (written by this script, reproducibly):
* `1L2Y_models1-3.cif`: 1L2Y.cif with `_atom_site` rows of models > 3 removed.
* `ala2_5atoms.xtc`: first 5 atoms, first 10 frames of ala2/frame0.xtc, written by
  MDTraj (xdrfile): a natoms <= 9 XTC, stored uncompressed.
* `ala2_nocell.dcd`: first 5 frames of ala2 with the unit cell removed, written by
  MDTraj's DCD writer (no unit-cell records).

Run with Debian's interpreter (MDTraj is not on pyenv's path):
    /usr/bin/python3 scripts/reference/structure/make_reader_fixtures.py \
        [--data /work/shared/data] [--out Tests/PLMStructureTests/Fixtures]
"""
import argparse
import json
import os
import shutil
import warnings

import numpy as np

warnings.filterwarnings("ignore")

import mdtraj as md  # noqa: E402
import prody  # noqa: E402
from Bio import SeqIO  # noqa: E402
from Bio.PDB import MMCIFParser, PDBParser  # noqa: E402
from Bio.PDB.MMCIF2Dict import MMCIF2Dict  # noqa: E402

prody.confProDy(verbosity="none")

COPIES = [
    ("structures/1A8O.pdb", "1A8O.pdb"),        # MSE as HETATM inside the chain
    ("structures/1A8O.cif", "1A8O.cif"),
    ("structures/1DIX.pdb", "1DIX.pdb"),        # insertion codes
    ("structures/3O5R.pdb", "3O5R.pdb"),        # altlocs, ligand, waters
    ("structures/3O5R.cif", "3O5R.cif"),        # same in mmCIF, ';' text fields
    ("structures/1K6P.pdb", "1K6P.pdb"),        # numeric altloc IDs, 2 chains
    ("structures/1LCD.pdb", "1LCD.pdb"),        # 3 models with different atom counts, DNA
    ("structures/1vii_3frames.pdb", "1vii_3frames.pdb"),  # models numbered 0,1,2, dummy CRYST1
    ("trajectories/trpcage_1l2y/trpcage_1l2y.pdb", "trpcage_1l2y.pdb"),  # GROMACS PDB
    ("trajectories/trpcage_1l2y/trpcage_1l2y.xtc", "trpcage_1l2y.xtc"),
    ("trajectories/trpcage_1l2y/trpcage_1l2y.dcd", "trpcage_1l2y.dcd"),
    ("trajectories/3tvj_I/3tvj_I.pdb", "3tvj_I.pdb"),
    ("trajectories/3tvj_I/3tvj_I_10frames.dcd", "3tvj_I_10frames.dcd"),
    ("trajectories/ala2/native.pdb", "ala2_native.pdb"),  # no element column
    ("trajectories/ala2/frame0.xtc", "ala2_frame0.xtc"),  # truncated octahedron box
]


def f32(a):
    """Float32 values as Python floats (exact: every float32 is a double)."""
    return [float(v) for v in np.asarray(a, dtype=np.float32).ravel()]


def bio_atom_record(a, chain_id, res):
    het, seq, icode = res.id
    return {
        "chain": chain_id, "resname": res.get_resname().strip(), "resseq": int(seq),
        "icode": icode.strip(), "name": a.get_name(), "altloc": a.get_altloc().strip(),
        "occupancy": float(a.get_occupancy()) if a.get_occupancy() is not None else None,
        "bfactor": float(a.get_bfactor()), "element": a.element.strip(),
        "hetero": het.startswith("H_") or het == "W",
        "xyz": [float(v) for v in a.get_coord().astype(np.float64)],
    }


def bio_structure(path, cif):
    """Models, chains, residue counts and sampled atoms as Biopython reads them."""
    parser = MMCIFParser(QUIET=True) if cif else PDBParser(QUIET=True)
    s = parser.get_structure("x", path)
    models = []
    for m in s:
        chains = []
        atoms = []
        for c in m:
            chains.append({"id": c.id.strip(), "residues": len(c),
                           "atoms": sum(1 for _ in c.get_atoms())})
            for res in c:
                for a in res:
                    atoms.append((a, c.id.strip(), res))
        # Sample: every 40th atom, the first/last 3, and every atom that had alternate locations
        # (only every 4th of those in models after the first).
        sample = []
        for i, (a, cid, res) in enumerate(atoms):
            if i % 40 == 0 or i < 3 or i >= len(atoms) - 3 or (a.is_disordered() and (not models or i % 4 == 0)):
                sample.append(bio_atom_record(a, cid, res))
        models.append({
            "serial": int(m.serial_num) if not cif else int(m.serial_num),
            "atoms": len(atoms), "residues": sum(c["residues"] for c in chains),
            "chains": chains, "sample_atoms": sample,
            "disordered_atoms": sum(1 for a, _, _ in atoms if a.is_disordered()),
        })
    return models


def fasta_by_entry(path):
    out = {}
    for rec in SeqIO.parse(path, "fasta"):
        fields = dict(kv.split("=", 1) for kv in rec.description.split()[1:] if "=" in kv)
        entry = os.path.basename(fields["file"])
        out.setdefault(entry, {})[fields["chain"]] = str(rec.seq)
    return out


def insertion_code_residues(path):
    s = PDBParser(QUIET=True).get_structure("x", path)
    out = []
    for c in s[0]:
        for r in c:
            if r.id[2].strip():
                out.append({"chain": c.id, "resseq": int(r.id[1]), "icode": r.id[2].strip(),
                            "resname": r.get_resname()})
    return out


def mdtraj_pdb(path):
    t = md.load_pdb(path)
    rec = {"atoms": t.n_atoms, "residues": t.n_residues,
           "elements": [a.element.symbol.upper() for a in t.topology.atoms][:400],
           "first_xyz_angstrom": [float(v) for v in (t.xyz[0, :3] * 10).astype(np.float64).ravel()]}
    if t.unitcell_lengths is not None:
        rec["cell_lengths_angstrom"] = f32(t.unitcell_lengths[0] * 10)
        rec["cell_angles"] = f32(t.unitcell_angles[0])
    return rec


def prody_pdb(path):
    ag = prody.parsePDB(path, model=1)
    return {"atoms": int(ag.numAtoms()), "first_xyz": [float(v) for v in ag.getCoords()[0]],
            "last_xyz": [float(v) for v in ag.getCoords()[-1]]}


def mmcif_label_summary(path):
    """Raw label_* view of model 1 from Biopython's CIF tokenizer (MMCIF2Dict)."""
    d = MMCIF2Dict(path)
    asym = d["_atom_site.label_asym_id"]
    seq = d["_atom_site.label_seq_id"]
    model = d.get("_atom_site.pdbx_PDB_model_num", ["1"] * len(asym))
    first = model[0]
    chains, polymer_residues = [], {}
    for a, s, m in zip(asym, seq, model):
        if m != first:
            continue
        if a not in chains:
            chains.append(a)
        if s not in (".", "?"):
            polymer_residues.setdefault(a, set()).add(int(s))
    out = {"label_chains": chains,
           "label_polymer_residues": {k: len(v) for k, v in polymer_residues.items()},
           "atom_site_rows": len(asym)}
    for key in ("length_a", "length_b", "length_c", "angle_alpha", "angle_beta", "angle_gamma"):
        v = d.get("_cell." + key)
        if v:
            out.setdefault("cell", []).append(float(v[0]))
    return out


def seqres_biopython(path):
    return {rec.annotations["chain"]: str(rec.seq) for rec in SeqIO.parse(path, "pdb-seqres")}


def xtc_record(path, frames=(0, -1), mid=None):
    with md.formats.XTCTrajectoryFile(path) as f:
        xyz, time, step, box = f.read()
    rec = {"n_frames": int(xyz.shape[0]), "n_atoms": int(xyz.shape[1]),
           "time_ps": f32(time), "step": [int(s) for s in step],
           "box_nm_first": f32(box[0]), "box_nm_last": f32(box[-1]),
           "xyz_nm_first": f32(xyz[0]), "xyz_nm_last": f32(xyz[-1])}
    if mid is not None:
        rec["mid_index"] = mid
        rec["xyz_nm_mid"] = f32(xyz[mid])
    a, b, c, alpha, beta, gamma = md.utils.box_vectors_to_lengths_and_angles(box[0, 0], box[0, 1], box[0, 2])
    rec["cell_lengths_nm_first"] = [float(a), float(b), float(c)]
    rec["cell_angles_first"] = [float(alpha), float(beta), float(gamma)]
    return rec


def dcd_record(path, mid=None):
    with md.formats.DCDTrajectoryFile(path) as f:
        xyz, lengths, angles = f.read()   # DCDTrajectoryFile returns raw Angstrom
    rec = {"n_frames": int(xyz.shape[0]), "n_atoms": int(xyz.shape[1]),
           "xyz_angstrom_first": f32(xyz[0]), "xyz_angstrom_last": f32(xyz[-1])}
    if mid is not None:
        rec["mid_index"] = mid
        rec["xyz_angstrom_mid"] = f32(xyz[mid])
    if lengths is not None:
        rec["cell_lengths_angstrom"] = [f32(v) for v in lengths]
        rec["cell_angles"] = [f32(v) for v in angles]
    return rec


def trim_cif_models(src, dst, keep):
    """Drops `_atom_site` rows whose last column (pdbx_PDB_model_num) exceeds `keep`."""
    with open(src) as f:
        lines = f.readlines()
    out = []
    for ln in lines:
        if ln.startswith(("ATOM", "HETATM")) and int(ln.split()[-1]) > keep:
            continue
        out.append(ln)
    with open(dst, "w") as f:
        f.writelines(out)


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default="/work/shared/data")
    ap.add_argument("--out", default=os.path.join(here, "../../../Tests/PLMStructureTests/Fixtures"))
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    for src, dst in COPIES:
        shutil.copyfile(os.path.join(args.data, src), os.path.join(out, dst))
    fx = lambda name: os.path.join(out, name)  # noqa: E731

    # Derived fixtures.
    trim_cif_models(os.path.join(args.data, "structures/1L2Y.cif"), fx("1L2Y_models1-3.cif"), 3)
    ala = md.load(fx("ala2_frame0.xtc"), top=fx("ala2_native.pdb"))
    ala.atom_slice(range(5))[:10].save_xtc(fx("ala2_5atoms.xtc"))
    nocell = ala[:5]
    nocell.unitcell_vectors = None
    nocell.save_dcd(fx("ala2_nocell.dcd"))

    atom_seqs = fasta_by_entry(os.path.join(args.data, "sequences/structures_atom_seqs.fasta"))
    seqres = fasta_by_entry(os.path.join(args.data, "sequences/structures_seqres.fasta"))

    ref = {"generator": "scripts/reference/structure/make_reader_fixtures.py",
           "tools": {"mdtraj": "1.9.7", "biopython": __import__("Bio").__version__,
                     "prody": prody.__version__, "gemmi_fasta": "0.7.5 (shared data)"},
           "structures": {}, "trajectories": {}}

    structures = ["1A8O.pdb", "1A8O.cif", "1DIX.pdb", "3O5R.pdb", "3O5R.cif", "1K6P.pdb",
                  "1LCD.pdb", "1vii_3frames.pdb", "1L2Y_models1-3.cif",
                  "trpcage_1l2y.pdb", "3tvj_I.pdb", "ala2_native.pdb"]
    for name in structures:
        path = fx(name)
        cif = name.endswith(".cif")
        entry = {"models": bio_structure(path, cif)}
        gemmi_name = {"1L2Y_models1-3.cif": "1L2Y.pdb"}.get(name, name.replace(".cif", ".pdb"))
        if gemmi_name in atom_seqs:
            entry["atom_sequences_gemmi"] = atom_seqs[gemmi_name]
        if gemmi_name in seqres:
            entry["seqres_sequences_gemmi"] = seqres[gemmi_name]
        if cif:
            entry["label"] = mmcif_label_summary(path)
        else:
            try:
                entry["mdtraj"] = mdtraj_pdb(path)
            except Exception as e:  # mdtraj refuses models with different atom counts (1LCD)
                entry["mdtraj_error"] = str(e)
            has_seqres = any(ln.startswith("SEQRES") for ln in open(path))
            if has_seqres:
                entry["seqres_biopython"] = seqres_biopython(path)
            if entry["models"][0]["disordered_atoms"] == 0:
                entry["prody"] = prody_pdb(path)
        if name == "1DIX.pdb":
            entry["insertion_code_residues"] = insertion_code_residues(path)
        ref["structures"][name] = entry

    T = ref["trajectories"]
    T["trpcage_1l2y.xtc"] = xtc_record(fx("trpcage_1l2y.xtc"), mid=50)
    T["trpcage_1l2y.dcd"] = dcd_record(fx("trpcage_1l2y.dcd"), mid=50)
    T["3tvj_I_10frames.dcd"] = dcd_record(fx("3tvj_I_10frames.dcd"), mid=5)
    T["ala2_frame0.xtc"] = xtc_record(fx("ala2_frame0.xtc"), mid=250)
    T["ala2_5atoms.xtc"] = xtc_record(fx("ala2_5atoms.xtc"), mid=4)
    T["ala2_nocell.dcd"] = dcd_record(fx("ala2_nocell.dcd"), mid=2)
    # Full-trajectory checks done here once (too big for the JSON): DCD == 10 * XTC for the pair.
    with md.formats.XTCTrajectoryFile(fx("trpcage_1l2y.xtc")) as f:
        xx = f.read()[0]
    with md.formats.DCDTrajectoryFile(fx("trpcage_1l2y.dcd")) as f:
        dd = f.read()[0]
    T["trpcage_max_abs_dcd_minus_10xtc_angstrom"] = float(np.abs(dd - 10 * xx.astype(np.float64)).max())
    # Topology <-> trajectory consistency as MDTraj sees it.
    T["trpcage_topology_atoms"] = md.load_topology(fx("trpcage_1l2y.pdb")).n_atoms
    T["3tvj_topology_atoms"] = md.load_topology(fx("3tvj_I.pdb")).n_atoms

    with open(fx("reader_reference.json"), "w") as f:
        json.dump(ref, f, sort_keys=True, separators=(",", ":"))
        f.write("\n")
    total = sum(os.path.getsize(fx(n)) for n in os.listdir(out))
    print(f"wrote {fx('reader_reference.json')}; fixtures total {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
