// Undoes a step of a multi-step operation unless disarmed: `Undo x{[&] {...}};`,
// then `x.armed = false` once the whole operation has succeeded. Failures on the
// way out (an early return) undo every step done so far, in reverse order.
#pragma once

namespace kapsel {

template <class F>
struct Undo {
    F f;
    bool armed = true;
    ~Undo() {
        if (armed) f();
    }
};
template <class F>
Undo(F) -> Undo<F>;

}  // namespace kapsel
