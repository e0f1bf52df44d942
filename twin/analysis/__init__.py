"""Analysis of run stores: KPIs of every layer from each kernel's own definitions
(:mod:`.kpis`) and the comparison of two runs (:mod:`.compare`)."""
