//! Filesystems whose files other machines or a userspace daemon share: the one list of them
//! (by mountinfo name and by statfs magic), and whether certbot's lock on such a filesystem
//! still excludes other machines. Pure, so built and tested everywhere; Linux asks it (the
//! lock table's trust in `linux/naming.rs`, inotify's completeness in `monitor/sys_linux.rs`).

/// One kind of shared filesystem.
struct SharedFs {
    /// Its type as mountinfo names it (`fuse.*` subtypes match "fuse").
    name: &'static str,
    /// Its statfs `f_type` magic numbers (linux/magic.h), if the monitor judges it by them.
    magic: &'static [i64],
    /// Whether its changes can come from elsewhere unseen by inotify. (Kept as the monitor had
    /// it: gfs2, ocfs2, orangefs and vboxsf were never in its list; virtiofs is FUSE by magic.)
    events_incomplete: bool,
}

const SHARED: &[SharedFs] = &[
    fs("nfs", &[0x6969], true),
    fs("nfs4", &[0x6969], true),
    fs("cifs", &[0xFF534D42_u32 as i64], true),
    fs("smb3", &[0xFE534D42_u32 as i64], true),
    fs("smbfs", &[0x517B], true),
    fs("ceph", &[0x00C36400], true),
    fs("9p", &[0x01021997], true),
    // OpenAFS and kAFS.
    fs("afs", &[0x5346414F, 0x6B414653], true),
    fs("gpfs", &[0x47504653], true),
    fs("lustre", &[0x0BD00BD0], true),
    fs("fuse", &[0x65735546], true),
    fs("fuseblk", &[], false),
    fs("glusterfs", &[], false),
    fs("ocfs2", &[], false),
    fs("gfs2", &[], false),
    fs("orangefs", &[], false),
    fs("vboxsf", &[], false),
    fs("virtiofs", &[], false),
];

const fn fs(name: &'static str, magic: &'static [i64], events_incomplete: bool) -> SharedFs {
    SharedFs {
        name,
        magic,
        events_incomplete,
    }
}

/// Whether files of this filesystem type (mountinfo's name) may be locked by other hosts or a
/// userspace daemon without this kernel's lock table knowing.
pub(crate) fn is_remote(fs_type: &str) -> bool {
    fs_type.starts_with("fuse.") || SHARED.iter().any(|f| f.name == fs_type)
}

/// Whether a filesystem with this statfs magic may change without inotify seeing it
/// (another NFS client, a FUSE daemon).
pub(crate) fn events_incomplete_for_magic(f_type: i64) -> bool {
    SHARED
        .iter()
        .any(|f| f.events_incomplete && f.magic.contains(&f_type))
}

/// Why certbot's lock on a file of this filesystem may not exclude certbot on another
/// machine, in one sentence; `None` when the filesystem keeps fcntl locks where every client
/// sees them (local filesystems, NFS with its lock manager, SMB with byte-range locks, the
/// cluster filesystems' lock managers). certbot locks with `fcntl` (`lockf`), so only
/// fcntl-lock options count (NFS `local_lock=flock` is fine).
///
/// Decided per type: NFS with `nolock` / `local_lock=all|posix`, SMB with `nobrl`, every
/// FUSE filesystem (its daemon keeps the locks, and sshfs, rclone, s3fs, bindfs ... keep them
/// on this machine; ceph-fuse and GlusterFS forward them and are exempt), 9p (QEMU's server
/// accepts locks without taking them on the host), virtiofs (virtiofsd keeps them only when
/// started with posix locks on), vboxsf and OrangeFS (no shared locks), Lustre with
/// `localflock`, GFS2 with `localflocks` or `lock_nolock`, OCFS2 (cluster-wide fcntl locks
/// only with a userspace cluster stack, which mountinfo does not show). Ceph, GPFS and
/// AFS are not judged: their locks are the servers' (AFS's byte-range locks are local, but
/// certbot's whole-file lock goes to the server).
pub(crate) fn lock_scope_hazard(
    fs_type: &str,
    mount_opts: &str,
    super_opts: &str,
) -> Option<String> {
    // Options may be in either field (the kernel prints the filesystem's in the super options).
    let opts = || mount_opts.split(',').chain(super_opts.split(','));
    let has = |wanted: &str| opts().any(|o| o == wanted);
    let local_lock = opts().find_map(|o| o.strip_prefix("local_lock="));
    let why: &str = match fs_type {
        "nfs" | "nfs4" if has("nolock") || matches!(local_lock, Some("all" | "posix")) => {
            "NFS is mounted with local locks (nolock or local_lock=all/posix): the lock is \
             kept on this machine only, so certbot on another host sharing this directory \
             would not see it"
        }
        "cifs" | "smb3" | "smbfs" if has("nobrl") => {
            "SMB is mounted with nobrl: byte-range locks are not sent to the server, so \
             certbot on another host sharing this directory would not see the lock"
        }
        // With the lock manager (NFS) or byte-range locks (SMB), the server keeps the lock.
        "nfs" | "nfs4" | "cifs" | "smb3" | "smbfs" => return None,
        "fuse.ceph-fuse" | "fuse.glusterfs" => return None,
        t if t == "fuse" || t == "fuseblk" || t.starts_with("fuse.") => {
            "on a FUSE filesystem the lock is its daemon's to keep, and most (sshfs, rclone, \
             s3fs, bindfs) keep it on this machine only: certbot on another host sharing \
             these files would not see it"
        }
        "9p" => {
            "on a 9p share the lock is not taken on the host (QEMU's 9p server accepts locks \
             without keeping them): certbot on the host or another guest would not see it"
        }
        "virtiofs" => {
            "on virtiofs the lock reaches the host only if virtiofsd runs with posix locks \
             enabled (off by default): certbot on the host or another guest may not see it"
        }
        "vboxsf" => {
            "VirtualBox shared folders do not share locks: certbot on the host or another \
             guest would not see this lock"
        }
        "orangefs" => {
            "OrangeFS does not share locks between clients: certbot on another client would \
             not see this lock"
        }
        "lustre" if has("localflock") => {
            "Lustre is mounted with localflock: the lock is kept on this client only, so \
             certbot on another client would not see it"
        }
        "gfs2" if has("localflocks") || has("lockproto=lock_nolock") => {
            "GFS2 is mounted with local locks (localflocks or lock_nolock): certbot on another \
             node would not see this lock"
        }
        "ocfs2" => {
            "OCFS2 shares fcntl locks between nodes only with a userspace cluster stack (not \
             the default o2cb): certbot on another node may not see this lock"
        }
        _ => return None,
    };
    Some(why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::proc_parse::MountLine;

    /// The hazard of a real-looking mountinfo line.
    fn hazard(line: &str) -> Option<String> {
        let m = MountLine::parse(line).expect("a mountinfo line");
        lock_scope_hazard(&m.fs_type, &m.mount_opts, &m.super_opts)
    }

    #[test]
    fn nfs_with_and_without_its_lock_manager() {
        // Linux 6.x, `mount -t nfs4 srv:/export/le /etc/letsencrypt` (the defaults).
        let v4 = "112 30 0:52 / /etc/letsencrypt rw,relatime shared:60 - nfs4 srv:/export/le \
                  rw,vers=4.2,rsize=1048576,wsize=1048576,namlen=255,hard,proto=tcp,timeo=600,\
                  retrans=2,sec=sys,clientaddr=10.0.0.5,local_lock=none,addr=10.0.0.2";
        assert_eq!(hazard(v4), None);
        // `-o vers=3,nolock`: the kernel prints both nolock and local_lock=all.
        let v3_nolock = "113 30 0:53 / /mnt/le rw,relatime shared:61 - nfs srv:/export/le \
                         rw,vers=3,rsize=1048576,wsize=1048576,namlen=255,hard,nolock,proto=tcp,\
                         timeo=600,retrans=2,sec=sys,mountaddr=10.0.0.2,mountvers=3,\
                         mountport=20048,mountproto=udp,local_lock=all,addr=10.0.0.2";
        assert!(hazard(v3_nolock).unwrap().contains("this machine only"));
        let v4_posix = v4.replace("local_lock=none", "local_lock=posix");
        assert!(hazard(&v4_posix).is_some());
        // flock-only local locks leave certbot's fcntl locks on the server.
        let v4_flock = v4.replace("local_lock=none", "local_lock=flock");
        assert_eq!(hazard(&v4_flock), None);
        let v3 = "114 30 0:54 / /mnt/v3 rw,relatime - nfs srv:/e rw,vers=3,hard,proto=tcp,\
                  mountproto=tcp,local_lock=none,addr=10.0.0.2";
        assert_eq!(hazard(v3), None);
    }

    #[test]
    fn smb_with_nobrl() {
        let cifs = "120 30 0:60 / /srv/le rw,relatime shared:70 - cifs //nas/le rw,vers=3.1.1,\
                    cache=strict,username=le,uid=0,noforceuid,gid=0,noforcegid,addr=10.0.0.3,\
                    file_mode=0755,dir_mode=0755,soft,nounix,serverino,mapposix,rsize=4194304,\
                    wsize=4194304,bsize=1048576,echo_interval=60,actimeo=1,closetimeo=1";
        assert_eq!(hazard(cifs), None);
        let nobrl = cifs.replace("mapposix,", "mapposix,nobrl,");
        assert!(hazard(&nobrl).unwrap().contains("nobrl"));
    }

    #[test]
    fn fuse_and_vm_shares() {
        let sshfs = "130 30 0:70 / /mnt/remote rw,nosuid,nodev,relatime shared:80 - fuse.sshfs \
                     le@host:/etc/letsencrypt rw,user_id=0,group_id=0";
        assert!(hazard(sshfs).unwrap().contains("FUSE"));
        let bindfs = "131 30 0:71 / /mnt/b rw,nosuid,nodev,relatime shared:81 - fuse /src \
                      rw,user_id=0,group_id=0,default_permissions,allow_other";
        assert!(hazard(bindfs).unwrap().contains("FUSE"));
        let ceph_fuse = "132 30 0:72 / /mnt/c rw,relatime - fuse.ceph-fuse ceph-fuse \
                         rw,user_id=0,group_id=0,allow_other";
        assert_eq!(hazard(ceph_fuse), None);
        let p9 = "140 30 0:80 / /mnt/host rw,relatime - 9p hostshare rw,access=client,trans=virtio";
        assert!(hazard(p9).is_some());
        let virtiofs = "141 30 0:81 / /mnt/v rw,relatime - virtiofs myfs rw";
        assert!(hazard(virtiofs).is_some());
        let vbox = "142 30 0:82 / /media/sf_le rw,nodev,relatime - vboxsf le rw";
        assert!(hazard(vbox).is_some());
    }

    #[test]
    fn local_and_cluster_filesystems() {
        for line in [
            "29 1 253:1 / / rw,relatime shared:1 - ext4 /dev/mapper/root rw,errors=remount-ro",
            "46 27 0:40 / /tmp/m/b rw,relatime shared:1 - btrfs /dev/loop0 rw,subvolid=5,subvol=/",
            "30 29 0:26 / /tmp rw,nosuid,nodev shared:2 - tmpfs tmpfs rw,size=8g",
            "31 29 0:27 / /var/lib/docker/overlay2/x/merged rw - overlay overlay rw,lowerdir=/a",
            "150 30 0:90 / /mnt/ceph rw,relatime - ceph 10.0.0.4:6789:/ rw,name=admin,acl",
            "151 30 253:5 / /mnt/gfs2 rw,relatime - gfs2 /dev/dm-5 rw,lockproto=lock_dlm",
        ] {
            assert_eq!(hazard(line), None, "{line}");
        }
        let gfs2_local = "151 30 253:5 / /mnt/gfs2 rw,relatime - gfs2 /dev/dm-5 rw,localflocks";
        assert!(hazard(gfs2_local).is_some());
        let lustre = "152 30 0:91 / /lustre rw - lustre 10.0.0.6@tcp:/fs rw,localflock";
        assert!(hazard(lustre).is_some());
        assert_eq!(lock_scope_hazard("lustre", "rw", "rw,flock"), None);
    }

    /// The two lists this module replaced, pinned: the lock table's remote types
    /// (`naming.rs::is_remote`) and the monitor's incomplete-event magics
    /// (`monitor/sys_linux.rs::REMOTE_OR_USERSPACE`), as they were.
    #[test]
    fn the_old_lists_answer_the_same() {
        for t in [
            "nfs",
            "nfs4",
            "cifs",
            "smb3",
            "smbfs",
            "ceph",
            "9p",
            "afs",
            "gpfs",
            "lustre",
            "fuseblk",
            "fuse",
            "glusterfs",
            "ocfs2",
            "gfs2",
            "orangefs",
            "vboxsf",
            "virtiofs",
            "fuse.sshfs",
            "fuse.bindfs",
        ] {
            assert!(is_remote(t), "{t}");
        }
        for t in [
            "ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", "fusectl", "nfsd", "",
        ] {
            assert!(!is_remote(t), "{t}");
        }
        let incomplete: &[i64] = &[
            0x6969,
            0x517B,
            0xFF534D42_u32 as i64,
            0xFE534D42_u32 as i64,
            0x65735546,
            0x00C36400,
            0x01021997,
            0x5346414F,
            0x6B414653,
            0x47504653,
            0x0BD00BD0,
        ];
        for &m in incomplete {
            assert!(events_incomplete_for_magic(m), "{m:#x}");
        }
        // ext4, xfs, btrfs, tmpfs, overlayfs, gfs2, ocfs2, orangefs, vboxsf: complete.
        for m in [
            0xEF53, 0x58465342, 0x9123683E, 0x01021994, 0x794C7630, 0x01161970, 0x7461636F,
            0x20030528, 0x786F4256,
        ] {
            assert!(!events_incomplete_for_magic(m), "{m:#x}");
        }
    }
}

#[cfg(all(test, unix))]
mod fuzz {
    use super::*;
    use crate::sys::proc_parse::fuzz::config;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(config(2000))]

        /// Any type and options: an answer, never a panic.
        #[test]
        fn any_options_never_panic(t in "\\PC{0,20}|(nfs|nfs4|cifs|fuse\\.[a-z]{0,5}|gfs2|lustre)",
                                   a in "\\PC{0,60}", b in "[a-z_=,]{0,60}") {
            let _ = lock_scope_hazard(&t, &a, &b);
            let _ = is_remote(&t);
        }
    }
}
