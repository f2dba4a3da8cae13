#pragma once
// GCC's 128-bit unsigned integer, named once (`__extension__` keeps -Wpedantic quiet).
namespace ecom {
__extension__ typedef unsigned __int128 u128;
}  // namespace ecom
