// Stand-in until the cgroup parser lands (branch `place`); removed by that merge.
#![allow(dead_code)]
pub(crate) struct CgroupPlace {
    pub unit: Option<String>,
    pub container: Option<ContainerRef>,
}
pub(crate) struct ContainerRef {
    pub runtime: &'static str,
    pub id: String,
}
pub(crate) fn process_place(_pid: u32) -> Option<CgroupPlace> {
    None
}
pub(crate) fn container_name(_c: &ContainerRef) -> Option<String> {
    None
}
pub(crate) fn network_hazard(_path: &std::path::Path) -> Option<String> {
    None
}
