"""LakeCache cacher: consumes cache commands of its site and fills the site's volumes from the lake."""
